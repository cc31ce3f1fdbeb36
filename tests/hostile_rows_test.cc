// Rows Directus can write that are awkward everywhere downstream: every
// nullable column null, 10 KB user agents, values at their column's full
// width, addresses that are not addresses, quotes and unicode. Through
// the snapshot and the stream, every stage, into the rollups: each row
// counts exactly once and none is set aside as unusable.

#include <gtest/gtest.h>

#include "tests/harness/pipeline_fixture.h"
#include "tests/harness/wait.h"

namespace pulse::testing {
namespace {

using std::chrono::seconds;

class HostileRowsTest : public PipelineFixture {
 protected:
  // One row of each awkward kind; `tag` tells copies apart.
  void InsertHostileRows(const std::string& tag) {
    const std::string agent(10 * 1024, 'M');
    const std::string wide_item(255, 'i');
    const std::string wide_collection = std::string(62, 'c') + "\xC3\xA9";
    const std::vector<std::vector<std::optional<std::string>>> rows = {
        // action, user, ip, user_agent, collection, item, origin
        {"run", std::nullopt, std::nullopt, std::nullopt, "flows", "1",
         std::nullopt},
        {"create", "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f", "not-an-ip", agent,
         "articles", "2", "https://cms.example.com"},
        {std::string(45, 'a'), std::nullopt, "1.2.3.4:5678",
         agent + "\xE2\x9C\x93", wide_collection, wide_item, std::nullopt},
        {"login", "11111111-2222-4333-8444-555555555555", std::string(50, '9'),
         "tab\there \"q\" back\\slash\nnl",
         "it's; DROP TABLE directus_activity; --" + tag, "3",
         "\xF0\x9F\x98\x80"},
        {"comment", std::nullopt, "2001:db8::ff00:42:8329", "",
         "\xE6\x97\xA5\xE6\x9C\xAC" + tag, "", ""},
    };
    for (const auto& r : rows) {
      auto st = conn_.Exec(
          "INSERT INTO directus_activity (action, \"user\", timestamp, ip, "
          "user_agent, collection, item, origin) VALUES ($1, $2::uuid, "
          "now(), $3, $4, $5, $6, $7)",
          r);
      ASSERT_TRUE(st.ok()) << st.status().ToString();
    }
  }
};

TEST_F(HostileRowsTest, NullsAndHugeValuesCountOnceThroughThePipeline) {
  for (int i = 0; i < 20; ++i) {
    InsertHostileRows("s" + std::to_string(i % 3));  // for the snapshot
  }
  auto sink = StartPulse("sink");
  auto aggregator = StartPulse("aggregate");
  auto ingest = StartPulse("ingest");
  ASSERT_TRUE(ingest->WaitForStderr("streaming_started", seconds(60)));
  for (int i = 0; i < 20; ++i) {
    InsertHostileRows("l" + std::to_string(i % 3));  // streamed
  }

  ASSERT_TRUE(WaitForCatchUp(seconds(60)));
  ASSERT_TRUE(WaitForApplied(RawCount(), seconds(60)))
      << "applied " << EventsApplied(conn_) << " of " << RawCount() << "\n"
      << aggregator->Stderr().substr(0, 4000);
  ExpectExact();

  // Nothing was unusable: the dead-letter topic stays empty.
  auto dead = ReadActivityTopic(broker_->bootstrap(), "directus.activity.dlq",
                                std::chrono::milliseconds(1500),
                                /*parse=*/false);
  EXPECT_TRUE(dead.empty())
      << dead.size() << " dead-lettered, first: "
      << (dead.empty() ? "" : dead[0].headers["pulse.reason"]);
  for (auto* p : {&ingest, &aggregator, &sink}) {
    EXPECT_EQ((*p)->Stop(), 0) << (*p)->Stderr().substr(0, 4000);
  }
}

}  // namespace
}  // namespace pulse::testing
