// Connections cut at the worst moments, without any process dying: the
// ingest loses its snapshot COPY mid-chunk or its replication connection
// mid-transaction, the sink loses its database connection before a
// rebalance; PostgreSQL stops while the ingest waits for downstream. Each
// must carry on by itself and end exact.

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <regex>
#include <thread>

#include "tests/harness/pipeline_fixture.h"
#include "tests/harness/wait.h"

namespace pulse::testing {
namespace {

using std::chrono::seconds;

class ReconnectTest : public PipelineFixture {
 protected:
  // The largest `rows=` of the ingest's progress lines so far.
  static int64_t ProgressRows(const std::string& log) {
    static const std::regex kRows(" progress phase=\\w+ rows=(\\d+)");
    int64_t best = 0;
    for (std::sregex_iterator it(log.begin(), log.end(), kRows), end; it != end;
         ++it) {
      best = std::max<int64_t>(best, std::stoll((*it)[1]));
    }
    return best;
  }

  // pg_terminate_backend of this database's backends matching `where`.
  int64_t Terminate(const std::string& where) {
    auto r = conn_.Exec(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND " +
        where);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->GetInt(0, 0) : 0;
  }

  void ExpectDrainedAndExact() {
    ASSERT_TRUE(WaitForCatchUp(seconds(120)))
        << "the slot stopped moving: " << SlotConfirmed().ToString() << " < "
        << CurrentWal().ToString();
    ASSERT_TRUE(WaitForApplied(RawCount(), seconds(120)))
        << "applied " << EventsApplied(conn_) << " of " << RawCount();
    ExpectExact();
  }
};

// Regression: the chunk being copied when the COPY connection died stayed
// open in the ingest's tracker, so no later chunk became durable and the
// resumed snapshot never finished.
TEST_F(ReconnectTest, SnapshotFinishesAfterItsCopyConnectionIsCut) {
  InsertRows(100000, 10000);

  // Backpressure (no sink yet) parks the snapshot in the middle of a
  // chunk with its COPY open.
  auto ingest =
      StartPulse("ingest", {{"PULSE_INGEST_MAX_AHEAD", "2000"},
                            {"PULSE_INGEST_SNAPSHOT_CHECKPOINT_ROWS", "5000"}});
  ASSERT_TRUE(WaitFor([&] { return ProgressRows(ingest->Stderr()) >= 15000; },
                      seconds(60)))
      << ingest->Stderr();
  ASSERT_EQ(Terminate("application_name = 'pulse-snapshot'"), 1);

  // Room again: the cut surfaces, a new session resumes the snapshot.
  auto sink = StartPulse("sink");
  auto aggregator = StartPulse("aggregate");
  ExpectDrainedAndExact();
  EXPECT_TRUE(ingest->WaitForStderr("snapshot_done", seconds(10)));
  EXPECT_NE(ingest->Stderr().find("source_unavailable"), std::string::npos)
      << "the COPY was not cut";
  for (auto* p : {&ingest, &aggregator, &sink}) {
    EXPECT_EQ((*p)->Stop(), 0) << (*p)->Stderr().substr(0, 4000);
  }
}

// Regression: the transaction being decoded when the replication
// connection died stayed open in the tracker, and the slot was never
// acknowledged again (WAL retained without bound).
TEST_F(ReconnectTest, SlotMovesAfterReplicationIsCutMidTransaction) {
  auto ingest = StartPulse("ingest", {{"PULSE_INGEST_MAX_AHEAD", "2000"}});
  ASSERT_TRUE(ingest->WaitForStderr("streaming_started", seconds(30)));

  // One transaction far larger than what backpressure lets through, so
  // the connection dies while it is half read.
  InsertRows(100000, 100000);
  ASSERT_TRUE(WaitFor([&] { return ProgressRows(ingest->Stderr()) >= 15000; },
                      seconds(60)))
      << ingest->Stderr();
  ASSERT_EQ(Terminate("application_name = 'pulse-ingest' AND backend_type "
                      "= 'walsender'"),
            1);

  auto sink = StartPulse("sink");
  auto aggregator = StartPulse("aggregate");
  ExpectDrainedAndExact();
  EXPECT_NE(ingest->Stderr().find("source_unavailable"), std::string::npos)
      << "the replication connection was not cut";
  for (auto* p : {&ingest, &aggregator, &sink}) {
    EXPECT_EQ((*p)->Stop(), 0) << (*p)->Stderr().substr(0, 4000);
  }
}

// Regression: a rebalance arriving while the sink's connection was dead
// made it exit instead of reconnecting.
TEST_F(ReconnectTest, SinkReconnectsWhenARebalanceFindsItsConnectionCut) {
  auto first = StartPulse("sink", {}, "sink-1");
  ASSERT_TRUE(first->WaitForStderr("partition_assigned", seconds(30)));
  ASSERT_GE(Terminate("application_name = 'pulse-sink'"), 1);

  // A second sink joins: the first one's partitions are reassigned.
  auto second = StartPulse("sink", {}, "sink-2");
  ASSERT_TRUE(second->WaitForStderr("partition_assigned", seconds(60)))
      << second->Stderr();
  ASSERT_TRUE(WaitFor(
      [&] {
        std::string log = first->Stderr();
        return log.find("database_unavailable") != std::string::npos &&
               log.rfind("partition_assigned") >
                   log.find("database_unavailable");
      },
      seconds(60)))
      << first->Stderr();
  EXPECT_TRUE(first->running()) << first->Stderr();

  // And the pipeline still counts exactly through both sinks.
  auto aggregator = StartPulse("aggregate");
  auto ingest = StartPulse("ingest");
  InsertRows(20000, 500);
  ExpectDrainedAndExact();
  for (auto* p : {&ingest, &aggregator, &second, &first}) {
    EXPECT_EQ((*p)->Stop(), 0) << (*p)->Stderr().substr(0, 4000);
  }
}

// Regression: an ingest paused for a slow sink keeps its walsender
// waiting to send the rest of the WAL, and a fast shutdown waits for
// walsenders: PostgreSQL could not stop (with the sink's database on the
// same server, it never would).
TEST_F(ReconnectTest, PostgresStopsWhileTheStreamIsPausedForTheSink) {
  auto ingest = StartPulse("ingest", {{"PULSE_INGEST_MAX_AHEAD", "2000"}});
  ASSERT_TRUE(ingest->WaitForStderr("streaming_started", seconds(30)));
  InsertRows(100000, 1000);  // far more than the paused stream takes
  ASSERT_TRUE(WaitFor([&] { return ProgressRows(ingest->Stderr()) >= 2000; },
                      seconds(60)))
      << ingest->Stderr();
  std::this_thread::sleep_for(seconds(2));

  auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(SharedPgServer().Stop("fast")) << "PostgreSQL did not stop";
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(20));
  ASSERT_TRUE(SharedPgServer().StartAgain());
  conn_ = SharedPgServer().Connect(url_);

  auto sink = StartPulse("sink");
  auto aggregator = StartPulse("aggregate");
  ExpectDrainedAndExact();
  for (auto* p : {&ingest, &aggregator, &sink}) {
    EXPECT_EQ((*p)->Stop(), 0) << (*p)->Stderr().substr(0, 4000);
  }
}

// The same with the broker down instead of the sink missing: the ingest
// stops reading once its producer queue is full, and must still let
// PostgreSQL stop.
TEST_F(ReconnectTest, PostgresStopsWhileTheBrokerIsDown) {
  auto ingest = StartPulse("ingest");
  ASSERT_TRUE(ingest->WaitForStderr("streaming_started", seconds(30)));
  ASSERT_EQ(rd_kafka_mock_broker_set_down(broker_->cluster(), 1),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  InsertRows(100000, 1000);
  std::this_thread::sleep_for(seconds(5));

  auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(SharedPgServer().Stop("fast")) << "PostgreSQL did not stop";
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(20));
  ASSERT_TRUE(SharedPgServer().StartAgain());
  conn_ = SharedPgServer().Connect(url_);
  ASSERT_EQ(rd_kafka_mock_broker_set_up(broker_->cluster(), 1),
            RD_KAFKA_RESP_ERR_NO_ERROR);

  auto sink = StartPulse("sink");
  auto aggregator = StartPulse("aggregate");
  ExpectDrainedAndExact();
  for (auto* p : {&ingest, &aggregator, &sink}) {
    EXPECT_EQ((*p)->Stop(), 0) << (*p)->Stderr().substr(0, 4000);
  }
}

}  // namespace
}  // namespace pulse::testing
