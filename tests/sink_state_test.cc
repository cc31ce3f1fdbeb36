// What an aggregator restores from the sink's tables when a partition
// moves to it: the alert windows of the partition's IPs up to the
// partition's newest event, and nothing after it.

#include "aggregator/sink_state.h"

#include <gtest/gtest.h>

#include "sink/schema.h"
#include "tests/harness/pg_server.h"

namespace pulse::testing {
namespace {

constexpr EventTimeMs kT = 1'764'000'000'000;  // a minute boundary

class SinkStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = SharedPgServer().CreateDatabase("sinkstate");
    conn_ = SharedPgServer().Connect(url_);
    ASSERT_TRUE(conn_.Run("CREATE EXTENSION IF NOT EXISTS hll").ok());
    auto schema = sink::MigrateSchema(conn_, {});
    ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  }

  // `count` events of `ip` in the minute starting `minutes` after kT.
  void AddMinute(const std::string& ip, int64_t minutes, int64_t count) {
    auto r = conn_.Exec(
        "INSERT INTO pulse.ip_minute (bucket, ip, activity_count, "
        "login_count, collections_count, collections) VALUES "
        "(to_timestamp($1::bigint / 1000.0), $2, $3, 0, 1, hll_empty(15, 5, "
        "-1, 1))",
        {std::to_string(kT + minutes * kMsPerMinute), ip,
         std::to_string(count)});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  std::string url_;
  PgConn conn_;
};

// Regression: minutes of other partitions' IPs later than this
// partition's newest event were restored too; they moved the alert
// engine's clock ahead, so during a backfill this partition's IPs expired
// early and alerted again within their cooldown.
TEST_F(SinkStateTest, WindowsStopAtThePartitionsNewestEvent) {
  AddMinute("10.0.0.1", -90, 7);  // before the longest window
  AddMinute("10.0.0.1", -30, 5);  // this partition, inside it
  AddMinute("10.0.0.1", 0, 3);
  AddMinute("10.9.9.9", 45, 50);  // another partition, further ahead

  aggregator::SinkState state(url_, "directus.activity.rollups");
  aggregator::AlertRules rules;
  auto w = state.LoadWindows(kT + 30'000, rules);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  std::vector<std::pair<std::string, int64_t>> got;
  for (const auto& [ip, m] : w->minutes) {
    got.emplace_back(ip, m.minute - kT / kMsPerMinute);
  }
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::pair<std::string, int64_t>>{
                     {"10.0.0.1", -30}, {"10.0.0.1", 0}}));
}

TEST_F(SinkStateTest, PartitionNeverAppliedRestoresNoWindows) {
  AddMinute("10.0.0.1", 0, 3);
  aggregator::SinkState state(url_, "directus.activity.rollups");
  auto w = state.LoadWindows(/*newest=*/0, aggregator::AlertRules{});
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_TRUE(w->minutes.empty());
}

}  // namespace
}  // namespace pulse::testing
