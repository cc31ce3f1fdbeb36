// The whole pipeline as separate processes (ingest, aggregate, sink) on a
// real PostgreSQL and broker: after crashes at awkward moments, replays and
// partition moves, the rollups equal the raw table exactly.

#include <gtest/gtest.h>
#include <signal.h>

#include <cctype>
#include <map>
#include <random>
#include <thread>

#include "generate/generate.h"
#include "tests/harness/pipeline_fixture.h"
#include "tests/harness/wait.h"

namespace pulse::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class PipelineTest : public PipelineFixture {
 protected:
  // History ending now, with hostile values and an attacker burst.
  void WriteHistory(int64_t rows, uint64_t seed) {
    generate::HistoryOptions h;
    h.target.url = url_;
    h.target.generator.seed = seed;
    h.target.generator.hostile_fraction = 0.01;
    h.target.generator.attacker_ip = "203.0.113.66";
    h.rows = rows;
    h.span = std::chrono::hours(72);
    h.end = NowMs();
    h.attacker_rows = 300;
    auto st = generate::WriteHistory(h);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
  }

  // Live inserts from a thread until stopped: 1-5 rows per transaction.
  class LiveWriter {
   public:
    LiveWriter(const std::string& url, uint64_t seed) {
      thread_ = std::thread([this, url, seed] {
        generate::LiveOptions o;
        o.target.url = url;
        o.target.generator.seed = seed;
        o.target.stop = &stop_;
        o.rate = 400;
        generate::RunLive(o).status().IgnoreError();
      });
    }
    ~LiveWriter() { Stop(); }
    void Stop() {
      stop_.Request("test");
      if (thread_.joinable()) {
        thread_.join();
      }
    }

   private:
    StopSignal stop_;
    std::thread thread_;
  };

  void DrainAndCheck(const std::string& why) {
    SCOPED_TRACE(why);
    ASSERT_TRUE(WaitForCatchUp(seconds(120)));
    ASSERT_TRUE(WaitForApplied(RawCount(), seconds(120)))
        << "applied " << EventsApplied(conn_) << " of " << RawCount();
    std::this_thread::sleep_for(seconds(1));  // nothing further may arrive
    ExpectExact();
  }
};

TEST_F(PipelineTest, BackfillAndLiveRowsAreExact) {
  WriteHistory(30000, 11);
  auto sink = StartPulse("sink");
  auto aggregator = StartPulse("aggregate");
  auto ingest = StartPulse("ingest");
  {
    LiveWriter live(url_, 12);
    std::this_thread::sleep_for(seconds(5));
  }
  DrainAndCheck("backfill plus live");

  // Exactly one alert per rule for the attacker's burst.
  auto alerts = conn_.Exec(
      "SELECT rule, count(*) FROM pulse.alerts WHERE ip = '203.0.113.66' "
      "GROUP BY rule ORDER BY rule");
  ASSERT_TRUE(alerts.ok());
  ASSERT_EQ(alerts->rows(), 2);
  EXPECT_EQ(alerts->Get(0, 0), "login_burst");
  EXPECT_EQ(alerts->GetInt(0, 1), 1);
  EXPECT_EQ(alerts->Get(1, 0), "suspicious_ip");
  EXPECT_EQ(alerts->GetInt(1, 1), 1);
  for (auto* p : {&ingest, &aggregator, &sink}) {
    EXPECT_EQ((*p)->Stop(), 0) << (*p)->Stderr().substr(0, 4000);
  }
}

TEST_F(PipelineTest, KillNineOfEveryStageStaysExact) {
  WriteHistory(20000, 21);
  auto sink = StartPulse("sink");
  auto aggregator = StartPulse("aggregate");
  auto ingest = StartPulse("ingest");
  LiveWriter live(url_, 22);

  // Kill each stage at seeded random moments, restart it at once.
  uint64_t seed = 23;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const char* names[] = {"ingest", "aggregate", "sink"};
  std::unique_ptr<Subprocess>* procs[] = {&ingest, &aggregator, &sink};
  for (int round = 0; round < 9; ++round) {
    std::this_thread::sleep_for(milliseconds(300 + rng() % 1500));
    int which = static_cast<int>(rng() % 3);
    (*procs[which])->Signal(SIGKILL);
    (*procs[which])->Wait(seconds(10));
    *procs[which] = StartPulse(names[which]);
  }
  live.Stop();
  DrainAndCheck("after nine kills");
  for (auto* p : procs) {
    EXPECT_EQ((*p)->Stop(), 0) << (*p)->Stderr().substr(0, 4000);
  }
}

TEST_F(PipelineTest, TwoAggregatorsOneKilledPartitionsMove) {
  WriteHistory(20000, 31);
  auto sink = StartPulse("sink");
  auto first = StartPulse("aggregate", {}, "aggregate-1");
  auto second = StartPulse("aggregate", {}, "aggregate-2");
  auto ingest = StartPulse("ingest");
  LiveWriter live(url_, 32);

  // Both must own partitions before one dies mid-stream.
  ASSERT_TRUE(WaitFor(
      [&] {
        return first->Stderr().find("partition_assigned") !=
                   std::string::npos &&
               second->Stderr().find("partition_assigned") != std::string::npos;
      },
      seconds(60)));
  std::this_thread::sleep_for(seconds(2));
  first->Signal(SIGKILL);
  first->Wait(seconds(10));

  // The survivor takes the partitions over from the sink's records.
  std::this_thread::sleep_for(seconds(4));
  live.Stop();
  DrainAndCheck("after the partitions moved");
  EXPECT_NE(second->Stderr().find("generation=2"), std::string::npos)
      << "a partition should have moved to the survivor";
  for (auto* p : {&ingest, &second, &sink}) {
    EXPECT_EQ((*p)->Stop(), 0) << (*p)->Stderr().substr(0, 4000);
  }
}

// An aggregator paused past its session timeout is expelled; its
// partitions move to another one, which restores them from the sink. The
// paused one then wakes up holding a batch it never published, and its
// flush timer has long expired. Whether it publishes that batch (fenced
// by the successor's claim) or drops it on noticing the loss, the rollups
// stay exact, and the successor's own batches still apply.
TEST_F(PipelineTest, ExpelledAggregatorWakingUpCannotBreakItsSuccessor) {
  auto sink = StartPulse("sink");
  auto ingest = StartPulse("ingest");
  auto zombie = StartPulse(
      "aggregate", {{"PULSE_AGGREGATOR_FLUSH_INTERVAL", "15s"}}, "aggregate-1");
  ASSERT_TRUE(zombie->WaitForStderr("partition_assigned", seconds(60)));
  ASSERT_TRUE(ingest->WaitForStderr("streaming_started", seconds(60)));
  InsertRows(2000, 20);
  std::this_thread::sleep_for(seconds(4));  // read, not yet published
  zombie->Signal(SIGSTOP);

  // The successor publishes late too, so the zombie's batch could land
  // first.
  auto successor = StartPulse(
      "aggregate", {{"PULSE_AGGREGATOR_FLUSH_INTERVAL", "10s"}}, "aggregate-2");
  ASSERT_TRUE(successor->WaitForStderr("partition_assigned", seconds(60)))
      << successor->Stderr();
  std::this_thread::sleep_for(seconds(2));
  zombie->Signal(SIGCONT);

  InsertRows(1000, 20);
  DrainAndCheck("after the expelled aggregator woke up");
  EXPECT_NE(sink->Stderr().find("partition_claimed"), std::string::npos);
  std::string sink_log = sink->Stderr();
  EXPECT_EQ(sink_log.find("rollup_out_of_sequence"), std::string::npos)
      << sink_log.substr(0, 4000);
  for (auto* p : {&ingest, &successor, &zombie, &sink}) {
    EXPECT_EQ((*p)->Stop(), 0) << (*p)->Stderr().substr(0, 4000);
  }
}

TEST_F(PipelineTest, IngestReplaysAreNotCountedTwice) {
  WriteHistory(20000, 41);
  auto sink = StartPulse("sink");
  auto aggregator = StartPulse("aggregate");
  LiveWriter live(url_, 42);

  // The first ingest reports progress to PostgreSQL only every 5 s, so
  // when it dies rows delivered to Kafka are still unacknowledged and the
  // second one sends them again.
  auto first = StartPulse("ingest", {{"PULSE_INGEST_STATUS_INTERVAL", "5s"}});
  ASSERT_TRUE(
      WaitFor([&] { return EventsApplied(conn_) >= 21000; }, seconds(60)));
  std::this_thread::sleep_for(seconds(2));
  first->Signal(SIGKILL);
  first->Wait(seconds(10));
  auto second = StartPulse("ingest");
  std::this_thread::sleep_for(seconds(2));
  live.Stop();
  DrainAndCheck("after an ingest replay");

  // The aggregator saw the replays and skipped them.
  std::string log = aggregator->Stderr();
  size_t at = log.rfind("duplicates=");
  ASSERT_NE(at, std::string::npos);
  EXPECT_GT(std::stoll(log.substr(at + 11)), 0) << "no replay happened";
  for (auto* p : {&second, &aggregator, &sink}) {
    EXPECT_EQ((*p)->Stop(), 0);
  }
}

// kill -9 at exact moments (common/crash_point.h): the stage dies there,
// is restarted as an orchestrator would, and the rollups and alerts come
// out exact. Each case names the point, the command that carries it and
// which hit kills.
struct CrashCase {
  const char* point;
  const char* command;
  int hit;
};

void PrintTo(const CrashCase& c, std::ostream* os) {
  *os << c.point << ":" << c.hit << " in " << c.command;
}

class CrashPointTest : public PipelineTest,
                       public ::testing::WithParamInterface<CrashCase> {};

TEST_P(CrashPointTest, KilledThereRestartedAndExact) {
  const CrashCase& c = GetParam();
  WriteHistory(20000, 51);

  // The ingest holds its snapshot to the sink's pace (as `pulse run`
  // does), so it checkpoints several times on the way: at most 200 rows
  // per partition (2,400 in all) may wait for the sink, a tenth of the
  // snapshot.
  std::map<std::string, std::string> ingest_env = {
      {"PULSE_INGEST_ACK", "sink"},
      {"PULSE_INGEST_MAX_AHEAD", "200"},
      {"PULSE_INGEST_STATUS_INTERVAL", "200ms"},
      {"PULSE_INGEST_SNAPSHOT_CHECKPOINT_ROWS", "1000"}};
  auto env_of = [&](const std::string& command, bool crash) {
    auto env =
        command == "ingest" ? ingest_env : std::map<std::string, std::string>{};
    if (crash && command == c.command) {
      env["PULSE_CRASH_AT"] =
          std::string(c.point) + ":" + std::to_string(c.hit);
    }
    return env;
  };
  std::map<std::string, std::unique_ptr<Subprocess>> procs;
  for (const char* command : {"sink", "aggregate", "ingest"}) {
    procs[command] = StartPulse(command, env_of(command, true));
  }

  // The stage reaches its point and dies there; it comes back without it.
  std::unique_ptr<Subprocess>& victim = procs[c.command];
  ASSERT_TRUE(victim->Wait(seconds(90)).has_value())
      << "never reached " << c.point << "\n"
      << victim->Stderr().substr(0, 4000);
  EXPECT_NE(victim->Stderr().find(std::string("crash_point point=") + c.point),
            std::string::npos)
      << victim->Stderr().substr(0, 4000);
  victim = StartPulse(c.command, env_of(c.command, false));
  InsertRows(3000, 20);
  DrainAndCheck(std::string("after a crash at ") + c.point);

  // One alert per rule for the attacker's single burst, however often the
  // aggregator published it.
  auto alerts = conn_.Exec(
      "SELECT rule, count(*) FROM pulse.alerts WHERE ip = '203.0.113.66' "
      "GROUP BY rule");
  ASSERT_TRUE(alerts.ok()) << alerts.status().ToString();
  ASSERT_GE(alerts->rows(), 1) << "the attacker raised no alert";
  for (int i = 0; i < alerts->rows(); ++i) {
    EXPECT_EQ(alerts->GetInt(i, 1), 1) << alerts->Get(i, 0);
  }
  for (auto& [name, p] : procs) {
    EXPECT_EQ(p->Stop(), 0) << name << ": " << p->Stderr().substr(0, 4000);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Points, CrashPointTest,
    ::testing::Values(CrashCase{"aggregate.after_alerts", "aggregate", 1},
                      CrashCase{"aggregate.state_write", "aggregate", 3},
                      CrashCase{"sink.before_commit", "sink", 2},
                      CrashCase{"ingest.snapshot_checkpoint", "ingest", 2}),
    [](const ::testing::TestParamInfo<CrashCase>& info) {
      std::string name;
      for (char ch : std::string(info.param.point)) {
        if (std::isalnum(static_cast<unsigned char>(ch))) {
          name += ch;
        }
      }
      return name;
    });

}  // namespace
}  // namespace pulse::testing
