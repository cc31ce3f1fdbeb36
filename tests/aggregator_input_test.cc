// What the aggregator does with every kind of input on the activity topic:
// Pulse's messages and Debezium's count; Debezium updates and deletes do
// not; messages it cannot use go to the dead-letter topic unchanged, with
// the reason in a header, and never disturb the good rows around them.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>

#include "common/activity_json.h"
#include "tests/harness/pipeline_fixture.h"
#include "tests/harness/wait.h"

namespace pulse::testing {
namespace {

using std::chrono::seconds;

// One input row as the test knows it.
struct Row {
  int64_t id;
  std::string action;
  std::optional<std::string> user;
  EventTimeMs time;
  std::optional<std::string> ip;
  std::string collection;
};

std::string PulseJson(const Row& r) {
  ActivityRow a;
  a.id = r.id;
  a.action = r.action;
  if (r.user) {
    a.user = *r.user;
  }
  a.timestamp = r.time;
  if (r.ip) {
    a.ip = *r.ip;
  }
  a.collection = r.collection;
  a.item = "1";
  std::string out;
  AppendActivityJson(a,
                     {.lsn = Lsn(static_cast<uint64_t>(1000 + r.id)),
                      .commit_lsn = Lsn(static_cast<uint64_t>(1000 + r.id)),
                      .xid = 1},
                     out);
  return out;
}

// Debezium's change event for the row, with or without the schema part.
std::string DebeziumJson(const Row& r, const char* op, bool envelope) {
  std::string after = fmt::format(
      R"({{"id":{},"action":"{}","user":{},"timestamp":"{}","ip":{},)"
      R"("user_agent":null,"collection":"{}","item":"1","origin":null}})",
      r.id, r.action, r.user ? "\"" + *r.user + "\"" : "null",
      FormatRfc3339Ms(r.time), r.ip ? "\"" + *r.ip + "\"" : "null",
      r.collection);
  std::string payload = fmt::format(
      R"({{"before":null,"after":{},"source":{{"lsn":{},)"
      R"("sequence":"[\"{}\",\"{}\"]","snapshot":"false"}},"op":"{}",)"
      R"("ts_ms":1}})",
      std::string(op) == "d" ? "null" : after, 5000 + r.id, 4000 + r.id,
      5000 + r.id, op);
  return envelope ? R"({"schema":{"type":"struct"},"payload":)" + payload + "}"
                  : payload;
}

class AggregatorInputTest : public PipelineFixture {
 protected:
  void Produce(const std::string& key, const std::string& value) {
    if (!producer_) {
      auto conf = MakeKafkaConf({{"bootstrap.servers", broker_->bootstrap()},
                                 {"message.max.bytes", "4000000"}},
                                {});
      char err[256];
      producer_.reset(
          rd_kafka_new(RD_KAFKA_PRODUCER, conf->release(), err, sizeof err));
    }
    ASSERT_EQ(
        rd_kafka_producev(
            producer_.get(), RD_KAFKA_V_TOPIC("directus.activity"),
            RD_KAFKA_V_KEY(key.data(), key.size()),
            RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
        RD_KAFKA_RESP_ERR_NO_ERROR);
  }

  // Records a good row in the reference table.
  void Expect(const Row& r) {
    auto st = conn_.Exec(
        "INSERT INTO expected_activity (id, action, \"user\", timestamp, ip, "
        "collection, item) VALUES ($1, $2, $3::uuid, to_timestamp($4::bigint "
        "/ 1000.0), $5, $6, '1')",
        {std::to_string(r.id), r.action, r.user, std::to_string(r.time), r.ip,
         r.collection});
    ASSERT_TRUE(st.ok()) << st.status().ToString();
  }

  KafkaHandle producer_;
};

TEST_F(AggregatorInputTest, GoodRowsCountBadOnesAreDeadLettered) {
  ASSERT_TRUE(conn_
                  .Run("CREATE TABLE expected_activity (LIKE "
                       "directus_activity)")
                  .ok());
  EventTimeMs now = FloorTo(NowMs(), kMsPerMinute) - 5 * kMsPerMinute;
  const std::string u1 = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f";
  const std::string u2 = "11111111-2222-4333-8444-555555555555";

  // Good rows, in Pulse's format, including awkward but valid values.
  std::vector<Row> good = {
      {1, "create", u1, now, "10.0.0.1", "articles"},
      {2, "login", std::nullopt, now + 1000, "not-an-ip", "directus_users"},
      {3, "run", std::nullopt, now + 2000, std::nullopt, "flows"},
      {4, "update", u2, now + 3000, "1.2.3.4:5678", "it's; DROP TABLE x; --"},
      {5, "comment", u1, now + 4000, "2001:db8::1", "caf\xC3\xA9"},
      {6, "frobnicate", u2, now + 5000, "10.0.0.1", ""},
      {7, "update", u1, 1000, "10.0.0.2", "ancient"},          // 1970
      {8, "update", u1, 4102444800000, "10.0.0.2", "future"},  // 2100
  };
  for (const Row& r : good) {
    Produce(r.ip.value_or(std::to_string(r.id)), PulseJson(r));
    Expect(r);
  }
  // Fields Pulse does not know are ignored, whatever their shape.
  Row extra{9, "create", u2, now + 5500, "10.0.0.3", "extra_fields"};
  Produce("10.0.0.3", R"({"pulse_future":{"a":[1,{"b":null}]},"note":"x",)" +
                          PulseJson(extra).substr(1));
  Expect(extra);

  // Debezium: creates and snapshot reads count; updates and deletes not.
  Row d1{101, "create", u1, now + 6000, "10.9.0.1", "debezium"};
  Row d2{102, "update", u2, now + 7000, "10.9.0.1", "debezium"};
  Row d3{103, "delete", u2, now + 8000, "10.9.0.1", "debezium"};
  Produce("d", DebeziumJson(d1, "c", true));
  Produce("d", DebeziumJson(d2, "r", false));
  Produce("d", DebeziumJson(d3, "u", true));
  Produce("d", DebeziumJson(d3, "d", false));
  Expect(d1);
  Expect(d2);

  // Bad messages, each with the reason the dead-letter header must give.
  std::vector<std::pair<std::string, std::string>> bad = {
      {"{\"id\": 1, \"action\": ", "not_json"},
      {"[1, 2, 3]", "not_object"},
      {"plain text", "not_json"},
      {R"({"id":"x","action":"create","timestamp":"2026-01-01T00:00:00Z",)"
       R"("collection":"a"})",
       "wrong_type"},
      {R"({"id":9,"action":"create","timestamp":"2026-01-01T00:00:00Z"})",
       "missing_field"},
      {R"({"id":9,"action":"create","timestamp":"yesterday",)"
       R"("collection":"a"})",
       "bad_timestamp"},
      {"{\"id\":9,\"action\":\"cr\xFF\xFE\",\"timestamp\":"
       "\"2026-01-01T00:00:00Z\",\"collection\":\"a\"}",
       "not_utf8"},
      // 1 MiB: above the default aggregator.max_message_bytes, and above
      // librdkafka's default message.max.bytes for the dead-letter copy.
      {"{\"id\":9,\"action\":\"create\",\"collection\":\"" +
           std::string(1 << 20, 'x') + "\"}",
       "oversized"},
  };
  for (const auto& [value, reason] : bad) {
    Produce("bad", value);
  }
  rd_kafka_flush(producer_.get(), 10000);

  // The pipeline downstream of the topic.
  std::map<std::string, std::string> env = {{"PULSE_RETENTION_HOUR", "0"}};
  auto sink = StartPulse("sink", env);
  auto aggregator = StartPulse("aggregate", env);
  int64_t want = static_cast<int64_t>(good.size()) + 3;
  ASSERT_TRUE(WaitForApplied(want, seconds(60)))
      << aggregator->Stderr().substr(0, 4000);
  auto mismatches = CompareRollups(conn_, "expected_activity");
  EXPECT_TRUE(mismatches.empty()) << Describe(mismatches);

  // Every bad message, unchanged, with its reason.
  auto dead = ReadActivityTopic(broker_->bootstrap(), "directus.activity.dlq",
                                std::chrono::milliseconds(1500),
                                /*parse=*/false);
  ASSERT_EQ(dead.size(), bad.size());
  for (size_t i = 0; i < bad.size(); ++i) {
    SCOPED_TRACE(bad[i].second);
    EXPECT_EQ(dead[i].value, bad[i].first);
    EXPECT_EQ(dead[i].headers["pulse.reason"], bad[i].second);
    EXPECT_EQ(dead[i].headers["pulse.source.topic"], "directus.activity");
  }
  EXPECT_EQ(aggregator->Stop(), 0);
  EXPECT_EQ(sink->Stop(), 0);
}

TEST_F(AggregatorInputTest, AlertWindowsAndCooldownsSurviveLosingLocalState) {
  ASSERT_TRUE(conn_
                  .Run("CREATE TABLE expected_activity (LIKE "
                       "directus_activity)")
                  .ok());
  EventTimeMs minute = FloorTo(NowMs(), kMsPerMinute) - 10 * kMsPerMinute;
  int64_t id = 0;
  auto burst = [&](int n, EventTimeMs at) {
    for (int i = 0; i < n; ++i) {
      Row r{++id, "update", std::nullopt, at + i, "198.51.100.9", "articles"};
      Produce(*r.ip, PulseJson(r));
    }
    rd_kafka_flush(producer_.get(), 10000);
  };
  auto alerts = [&] {
    auto r = conn_.Exec(
        "SELECT count(*), coalesce(max(activity_count), 0) FROM pulse.alerts "
        "WHERE ip = '198.51.100.9' AND rule = 'suspicious_ip'");
    return std::make_pair(r->GetInt(0, 0), r->GetInt(0, 1));
  };

  // 60 events: below the threshold. Then the aggregator dies and its
  // state folder is lost; the next one rebuilds the windows from the sink.
  auto sink = StartPulse("sink");
  auto first = StartPulse("aggregate", {}, "first");
  burst(60, minute);
  ASSERT_TRUE(WaitForApplied(60, seconds(60)));
  first->Signal(SIGKILL);
  first->Wait(seconds(10));

  // 41 more a minute later: together they cross 100 exactly once.
  auto second = StartPulse("aggregate", {}, "second");
  burst(41, minute + kMsPerMinute);
  ASSERT_TRUE(WaitForApplied(101, seconds(60))) << second->Stderr();
  EXPECT_EQ(alerts(), std::make_pair(int64_t{1}, int64_t{101}));

  // Lose the state again: the cooldown comes back from pulse.alerts, so
  // 200 more events in the cooldown fire nothing.
  second->Signal(SIGKILL);
  second->Wait(seconds(10));
  auto third = StartPulse("aggregate", {}, "third");
  burst(200, minute + 2 * kMsPerMinute);
  ASSERT_TRUE(WaitForApplied(301, seconds(60))) << third->Stderr();
  EXPECT_EQ(alerts().first, 1);
  EXPECT_EQ(third->Stop(), 0);
  EXPECT_EQ(sink->Stop(), 0);
}

}  // namespace
}  // namespace pulse::testing
