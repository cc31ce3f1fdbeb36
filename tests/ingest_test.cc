// `pulse ingest` against a real PostgreSQL and the embedded broker: every
// row arrives, replays are recognisable, WAL is acknowledged and released.

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <regex>
#include <thread>

#include "tests/harness/ingest_fixture.h"
#include "tests/harness/wait.h"

namespace pulse::testing {
namespace {

using std::chrono::seconds;

class IngestTest : public IngestFixture {
 protected:
  // Every id of the table applied exactly once after the replay rule.
  void ExpectEveryIdOnce(const std::vector<ActivityMessage>& messages) {
    ReplayCheck check = ApplyReplayRule(messages);
    std::set<int64_t> ids = TableIds();
    int64_t missing = 0;
    int64_t doubled = 0;
    for (int64_t id : ids) {
      auto it = check.applied.find(id);
      missing += it == check.applied.end();
      doubled += it != check.applied.end() && it->second > 1;
    }
    EXPECT_EQ(missing, 0) << "ids never delivered";
    EXPECT_EQ(doubled, 0) << "ids applied twice despite the replay rule";
    EXPECT_EQ(check.applied.size(), ids.size());
  }

  std::string StateFile() const {
    return state_dir_ + "/ingest-" + slot_ + ".state";
  }
  // The snapshot checkpoint's last_id, or -1 once the snapshot is done.
  int64_t SnapshotProgress() const {
    std::ifstream in(StateFile());
    std::string key, value;
    int64_t last_id = 0;
    bool done = false;
    while (in >> key >> value) {
      if (key == "last_id") {
        last_id = std::stoll(value);
      } else if (key == "done") {
        done = value == "true";
      }
    }
    return done ? -1 : last_id;
  }
};

TEST_F(IngestTest, RowsBeforeAndDuringSnapshotArriveOnce) {
  InsertRows(100000);
  auto ingest = StartIngest();

  // 50k more while the snapshot runs, in Directus-sized transactions.
  ASSERT_TRUE(ingest->WaitForStderr("snapshot_started", seconds(30)))
      << ingest->Stderr();
  InsertRows(50000, 100);

  ASSERT_TRUE(ingest->WaitForStderr("snapshot_done", seconds(60)))
      << ingest->Stderr();
  ASSERT_TRUE(WaitForCatchUp(seconds(60))) << ingest->Stderr();
  EXPECT_EQ(ingest->Stop(), 0) << ingest->Stderr();

  // A single run: no replays at all, and every id exactly once.
  auto messages = ReadAll();
  EXPECT_EQ(ApplyReplayRule(messages).replays, 0);
  EXPECT_EQ(messages.size(), 150000u);
  ExpectEveryIdOnce(messages);
}

TEST_F(IngestTest, KillDuringSnapshotResumesFromCheckpoint) {
  InsertRows(200000, 20000);

  // Slow the broker so the snapshot is still running when we kill it.
  rd_kafka_mock_broker_set_rtt(broker_->cluster(), -1, 50);
  std::map<std::string, std::string> slow = {
      {"PULSE_INGEST_MAX_IN_FLIGHT", "500"},
      {"PULSE_INGEST_SNAPSHOT_CHECKPOINT_ROWS", "2000"}};
  auto first = StartIngest(slow);
  ASSERT_TRUE(
      WaitFor([&] { return SnapshotProgress() >= 10000; }, seconds(120)))
      << first->Stderr();
  first->Signal(SIGKILL);
  first->Wait(seconds(10));
  int64_t resumed_after = SnapshotProgress();
  ASSERT_GT(resumed_after, 0) << "the kill must land mid-snapshot";

  // Rows committed after the slot's snapshot must come once, via the slot.
  InsertRows(5000, 50);
  rd_kafka_mock_broker_set_rtt(broker_->cluster(), -1, 0);
  auto second = StartIngest();
  ASSERT_TRUE(second->WaitForStderr("snapshot_done", seconds(120)))
      << second->Stderr();
  EXPECT_NE(
      second->Stderr().find("resume_after_id=" + std::to_string(resumed_after)),
      std::string::npos)
      << "the second run must resume, not start over";
  ASSERT_TRUE(WaitForCatchUp(seconds(60))) << second->Stderr();
  EXPECT_EQ(second->Stop(), 0);

  auto messages = ReadAll();
  ExpectEveryIdOnce(messages);
  // The redo is bounded by the checkpoint interval plus what was in
  // flight, not the whole table.
  EXPECT_LT(ApplyReplayRule(messages).replays, 20000);
}

// A row written by a subtransaction whose transaction was running when
// the slot was created belongs to the slot, also after a crash during the
// snapshot: the resumed copy's filter must not take it a second time.
TEST_F(IngestTest, SubtransactionRunningAtSlotCreationArrivesOnce) {
  InsertRows(200000, 20000);
  PgServer& pg = SharedPgServer();
  auto run = [](PgConn& c, const std::string& sql) {
    Status st = c.Run(sql);
    ASSERT_TRUE(st.ok()) << sql << ": " << st.ToString();
  };

  // The slot becomes consistent only once every transaction running when
  // it starts, or while it builds its snapshot, has ended; one begun
  // after that (T, with a subtransaction) can still be running at the
  // snapshot. B holds the slot back until C has an xid; CHECKPOINT logs
  // the running transactions the slot moves on; U commits after T's
  // subtransaction took its xid.
  PgConn b = pg.Connect(url_), c = pg.Connect(url_), t = pg.Connect(url_);
  run(b, "BEGIN; SELECT pg_current_xact_id()");
  rd_kafka_mock_broker_set_rtt(broker_->cluster(), -1, 50);
  auto first = StartIngest({{"PULSE_INGEST_MAX_IN_FLIGHT", "500"},
                            {"PULSE_INGEST_SNAPSHOT_CHECKPOINT_ROWS", "2000"}});
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = conn_.Exec(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
            "'CREATE_REPLICATION_SLOT%' AND state = 'active'");
        return r.ok() && r->GetInt(0, 0) == 1;
      },
      seconds(30)))
      << first->Stderr();
  std::this_thread::sleep_for(seconds(1));
  run(c, "BEGIN; SELECT pg_current_xact_id()");
  run(b, "COMMIT");
  run(conn_, "CHECKPOINT");
  run(t,
      "BEGIN; SAVEPOINT s; INSERT INTO directus_activity (action, "
      "collection, item) VALUES ('create', 'subtransaction', 'x')");
  run(conn_,
      "INSERT INTO directus_activity (action, collection, item) VALUES "
      "('create', 'later', 'u')");
  run(c, "COMMIT");
  run(conn_, "CHECKPOINT");

  // Killed mid-snapshot, before the copy reaches T's row (the last id);
  // T commits after the slot's snapshot, so its row belongs to the slot.
  ASSERT_TRUE(
      WaitFor([&] { return SnapshotProgress() >= 10000; }, seconds(120)))
      << first->Stderr();
  first->Signal(SIGKILL);
  first->Wait(seconds(10));
  run(t, "COMMIT");

  // The case at stake: the subtransaction's xid is below the snapshot's
  // xmax (a later transaction committed first), so only its place in the
  // in-progress list keeps the resumed copy from taking the row.
  auto sub = conn_.Exec(
      "SELECT xmin::text::bigint FROM directus_activity WHERE collection = "
      "'subtransaction'");
  ASSERT_TRUE(sub.ok() && sub->rows() == 1);
  std::string state = ReadFile(state_dir_ + "/ingest-" +
                               PulseEnv().at("PULSE_INGEST_SLOT") + ".state");
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(state, m, std::regex("pg_snapshot (\\d+):(\\d+):")))
      << state;
  ASSERT_LT(sub->GetInt(0, 0), std::stoll(m[2])) << state;
  rd_kafka_mock_broker_set_rtt(broker_->cluster(), -1, 0);
  auto second = StartIngest();
  ASSERT_TRUE(second->WaitForStderr("snapshot_done", seconds(120)))
      << second->Stderr();
  ASSERT_TRUE(WaitForCatchUp(seconds(60))) << second->Stderr();
  EXPECT_EQ(second->Stop(), 0);
  ExpectEveryIdOnce(ReadAll());
}

// The checkpoint file lost mid-snapshot (state_dir on a volume that did
// not survive): the slot's own markers say the snapshot is pending, and
// it is copied again from its first row; rows sent before are replays.
TEST_F(IngestTest, StateLostDuringSnapshotIsRecoveredFromTheSlot) {
  InsertRows(200000, 20000);
  rd_kafka_mock_broker_set_rtt(broker_->cluster(), -1, 50);
  auto first = StartIngest({{"PULSE_INGEST_MAX_IN_FLIGHT", "500"},
                            {"PULSE_INGEST_SNAPSHOT_CHECKPOINT_ROWS", "2000"}});
  ASSERT_TRUE(
      WaitFor([&] { return SnapshotProgress() >= 10000; }, seconds(120)))
      << first->Stderr();
  first->Signal(SIGKILL);
  first->Wait(seconds(10));
  RemoveTree(state_dir_);

  InsertRows(5000, 50);  // after the slot's snapshot: through the slot
  rd_kafka_mock_broker_set_rtt(broker_->cluster(), -1, 0);
  auto second = StartIngest();
  ASSERT_TRUE(second->WaitForStderr("snapshot_done", seconds(120)))
      << second->Stderr();
  EXPECT_NE(second->Stderr().find("snapshot_state_recovered"),
            std::string::npos);
  EXPECT_NE(second->Stderr().find("snapshot_done=false"), std::string::npos)
      << second->Stderr();
  ASSERT_TRUE(WaitForCatchUp(seconds(60))) << second->Stderr();
  EXPECT_EQ(second->Stop(), 0);
  ExpectEveryIdOnce(ReadAll());
}

// Lost after the snapshot finished: nothing is copied again.
TEST_F(IngestTest, StateLostAfterSnapshotStreamsWithoutCopying) {
  InsertRows(3000, 1000);
  auto first = StartIngest();
  ASSERT_TRUE(first->WaitForStderr("streaming_started", seconds(60)));
  ASSERT_TRUE(WaitForCatchUp(seconds(60))) << first->Stderr();
  EXPECT_EQ(first->Stop(), 0);
  RemoveTree(state_dir_);

  InsertRows(2000, 100);
  auto second = StartIngest();
  ASSERT_TRUE(second->WaitForStderr("streaming_started", seconds(60)))
      << second->Stderr();
  EXPECT_NE(second->Stderr().find("snapshot_done=true"), std::string::npos)
      << second->Stderr();
  EXPECT_EQ(second->Stderr().find("snapshot_started"), std::string::npos);
  ASSERT_TRUE(WaitForCatchUp(seconds(60))) << second->Stderr();
  EXPECT_EQ(second->Stop(), 0);
  auto messages = ReadAll();
  ExpectEveryIdOnce(messages);
  EXPECT_EQ(ApplyReplayRule(messages).replays, 0);
}

TEST_F(IngestTest, KillDuringStreamingReplaysAreRecognisable) {
  auto first = StartIngest();
  ASSERT_TRUE(first->WaitForStderr("streaming_started", seconds(30)))
      << first->Stderr();

  // Keep writing while the ingest dies and comes back.
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    PgConn c = SharedPgServer().Connect(url_);
    while (writing.load()) {
      c.Exec(
           "INSERT INTO directus_activity (action, ip, collection, item) "
           "SELECT 'update', '10.1.0.' || (g % 30), 'articles', g::text "
           "FROM generate_series(1, 20) g")
          .status()
          .IgnoreError();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  std::this_thread::sleep_for(seconds(2));
  first->Signal(SIGKILL);
  first->Wait(seconds(10));
  std::this_thread::sleep_for(seconds(1));
  auto second = StartIngest();
  std::this_thread::sleep_for(seconds(2));
  writing.store(false);
  writer.join();

  ASSERT_TRUE(WaitForCatchUp(seconds(60))) << second->Stderr();
  EXPECT_EQ(second->Stop(), 0);
  ExpectEveryIdOnce(ReadAll());
}

TEST_F(IngestTest, PostgresRestartMidStreamLosesNothing) {
  auto ingest = StartIngest();
  ASSERT_TRUE(ingest->WaitForStderr("streaming_started", seconds(30)));
  InsertRows(3000, 100);

  ASSERT_TRUE(SharedPgServer().Restart("fast"));
  conn_ = SharedPgServer().Connect(url_);
  InsertRows(3000, 100);

  ASSERT_TRUE(ingest->WaitForStderr("source_unavailable", seconds(30)))
      << ingest->Stderr();
  ASSERT_TRUE(WaitForCatchUp(seconds(60))) << ingest->Stderr();
  EXPECT_EQ(ingest->Stop(), 0);
  ExpectEveryIdOnce(ReadAll());
}

// Regression: with `ingest.snapshot: never` the state file could not be
// read back, so the ingest refused every restart ("damaged").
TEST_F(IngestTest, SnapshotNeverRestartsAndStreamsRowsWrittenMeanwhile) {
  InsertRows(500, 100);  // before the slot: never sent
  std::map<std::string, std::string> never = {
      {"PULSE_INGEST_SNAPSHOT", "never"}};
  auto first = StartIngest(never);
  ASSERT_TRUE(first->WaitForStderr("streaming_started", seconds(30)));
  InsertRows(1000, 100);
  ASSERT_TRUE(WaitForCatchUp(seconds(60))) << first->Stderr();
  EXPECT_EQ(first->Stop(), 0);

  InsertRows(2000, 100);  // while it is stopped
  auto second = StartIngest(never);
  ASSERT_TRUE(second->WaitForStderr("streaming_started", seconds(30)))
      << second->Stderr();
  ASSERT_TRUE(WaitForCatchUp(seconds(60))) << second->Stderr();
  EXPECT_EQ(second->Stop(), 0);

  // Every row after the slot's creation, once; none from before it.
  ReplayCheck check = ApplyReplayRule(ReadAll());
  std::set<int64_t> ids = TableIds();
  int64_t first_streamed = *std::next(ids.begin(), 500);
  EXPECT_EQ(check.applied.size(), 3000u);
  EXPECT_EQ(check.applied.begin()->first, first_streamed);
  for (const auto& [id, times] : check.applied) {
    EXPECT_EQ(times, 1) << "id " << id;
  }
}

TEST_F(IngestTest, IdleTableWithBusyNeighbourReleasesWal) {
  auto ingest = StartIngest({{"PULSE_INGEST_HEARTBEAT_INTERVAL", "1s"}});
  ASSERT_TRUE(ingest->WaitForStderr("streaming_started", seconds(30)));
  InsertRows(10);

  // ~200 MB of WAL in another table; directus_activity stays idle.
  ASSERT_TRUE(conn_.Run("CREATE TABLE neighbour (id int, pad text)").ok());
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(conn_
                    .Run("INSERT INTO neighbour SELECT g, repeat('x', 200) "
                         "FROM generate_series(1, 100000) g")
                    .ok());
  }

  // The slot must follow, keeping under 64 MB (running_xacts records,
  // which let restart_lsn move, come at least every 15 s).
  auto retained = [&] {
    auto r = conn_.Exec(
        "SELECT pg_current_wal_lsn() - restart_lsn FROM "
        "pg_replication_slots WHERE slot_name = $1",
        {slot_});
    return r.ok() && r->rows() == 1 ? r->GetInt(0, 0) : -1;
  };
  EXPECT_TRUE(
      WaitFor([&] { return retained() >= 0 && retained() < 64 * 1024 * 1024; },
              seconds(60), std::chrono::milliseconds(500)))
      << "retained WAL bytes: " << retained();
  EXPECT_EQ(ingest->Stop(), 0);
}

}  // namespace
}  // namespace pulse::testing
