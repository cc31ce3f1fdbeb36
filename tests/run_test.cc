// End to end: history rows, live inserts, kill -9 mid-stream, restart;
// then `pulse reconcile` over the whole range reports zero mismatches and
// the attacker's alert exists once. First with `pulse run` on its embedded
// broker, then with separate processes on `pulse broker`.

#include <gtest/gtest.h>
#include <signal.h>

#include <random>
#include <thread>

#include "generate/generate.h"
#include "tests/harness/pipeline_fixture.h"
#include "tests/harness/wait.h"

namespace pulse::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class RunTest : public PipelineFixture {
 protected:
  void SetUp() override {
    PipelineFixture::SetUp();
    generate::HistoryOptions h;
    h.target.url = url_;
    h.target.generator.seed = 51;
    h.target.generator.attacker_ip = "203.0.113.66";
    h.rows = 40000;
    h.span = std::chrono::hours(48);
    h.end = NowMs() - 60 * kMsPerMinute;
    h.attacker_rows = 300;
    auto st = generate::WriteHistory(h);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
  }

  // Live traffic from a `pulse generate live` process.
  std::unique_ptr<Subprocess> StartLive() {
    auto env = PulseEnv();
    return std::make_unique<Subprocess>(
        Subprocess::Options{.argv = {PulseBinary(), "generate", "live",
                                     "--rate", "300", "--seed", "52"},
                            .env = env});
  }

  // `pulse reconcile` over the last three days; returns its exit code.
  int Reconcile(std::string& out) {
    auto env = PulseEnv();
    std::string since =
        FormatRfc3339Ms(FloorTo(NowMs() - 3 * kMsPerDay, kMsPerMinute));
    std::string until =
        FormatRfc3339Ms(FloorTo(NowMs(), kMsPerMinute) + kMsPerMinute);
    Subprocess r({.argv = {PulseBinary(), "reconcile", "--since", since,
                           "--until", until},
                  .env = env});
    auto code = r.Wait(seconds(300));
    out = r.Stdout() + r.Stderr();
    return code.value_or(-1);
  }

  void DrainReconcileAndCheckAlerts() {
    ASSERT_TRUE(WaitForCatchUp(seconds(120)));
    ASSERT_TRUE(WaitForApplied(RawCount(), seconds(180)))
        << "applied " << EventsApplied(conn_) << " of " << RawCount();
    ExpectExact();

    std::string report;
    EXPECT_EQ(Reconcile(report), 0) << report;
    auto alerts = conn_.Exec(
        "SELECT count(*) FILTER (WHERE rule = 'suspicious_ip'), "
        "count(*) FILTER (WHERE rule = 'login_burst') FROM pulse.alerts "
        "WHERE ip = '203.0.113.66'");
    ASSERT_TRUE(alerts.ok());
    EXPECT_EQ(alerts->GetInt(0, 0), 1);
    EXPECT_EQ(alerts->GetInt(0, 1), 1);
  }
};

TEST_F(RunTest, KillNineOfPulseRunLosesNothingAndCountsNothingTwice) {
  auto live = StartLive();
  auto run = StartPulse("run", {{"PULSE_KAFKA_BROKERS", ""}});
  ASSERT_TRUE(
      WaitFor([&] { return EventsApplied(conn_) > 10000; }, seconds(90)))
      << run->Stderr().substr(0, 4000);
  // The only consumers of the in-process broker take every partition
  // rather than wait for a consumer group to form.
  for (const char* started : {"aggregator_started", "sink_started"}) {
    std::string log = run->Stderr();
    size_t at = log.find(started);
    ASSERT_NE(at, std::string::npos) << started;
    EXPECT_NE(log.substr(at, log.find('\n', at) - at).find("assignment=all"),
              std::string::npos)
        << log.substr(at, 300);
  }

  // Kill mid-stream twice; each restart has a fresh in-memory broker.
  for (int i = 0; i < 2; ++i) {
    run->Signal(SIGKILL);
    run->Wait(seconds(10));
    std::this_thread::sleep_for(milliseconds(500));
    run = StartPulse("run", {{"PULSE_KAFKA_BROKERS", ""}});
    std::this_thread::sleep_for(seconds(3));
  }
  EXPECT_EQ(live->Stop(), 0);
  DrainReconcileAndCheckAlerts();
  EXPECT_EQ(run->Stop(), 0) << run->Stderr().substr(0, 4000);
}

TEST_F(RunTest, SeparateProcessesOnPulseBrokerSurviveKills) {
  // The broker as its own process: its address is its first stdout line.
  Subprocess broker({.argv = {PulseBinary(), "broker", "--partitions", "4"},
                     .env = PulseEnv()});
  auto line = broker.WaitForStdoutLine("bootstrap=", seconds(30));
  ASSERT_TRUE(line.has_value()) << broker.Stderr();
  std::map<std::string, std::string> env = {
      {"PULSE_KAFKA_BROKERS", line->substr(10)}, {"PULSE_INGEST_ACK", "sink"}};

  auto live = StartLive();
  auto sink = StartPulse("sink", env);
  auto first = StartPulse("aggregate", env, "aggregate-1");
  auto second = StartPulse("aggregate", env, "aggregate-2");
  auto ingest = StartPulse("ingest", env);

  // Kill each worker once at seeded moments and bring it back.
  uint64_t seed = 53;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::unique_ptr<Subprocess>* procs[] = {&ingest, &first, &second, &sink};
  const char* names[] = {"ingest", "aggregate", "aggregate", "sink"};
  const char* keys[] = {"ingest", "aggregate-1", "aggregate-2", "sink"};
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(milliseconds(1000 + rng() % 2000));
    (*procs[i])->Signal(SIGKILL);
    (*procs[i])->Wait(seconds(10));
    *procs[i] = StartPulse(names[i], env, keys[i]);
  }
  EXPECT_EQ(live->Stop(), 0);
  DrainReconcileAndCheckAlerts();
  for (auto* p : procs) {
    EXPECT_EQ((*p)->Stop(), 0) << (*p)->Stderr().substr(0, 4000);
  }
  EXPECT_EQ(broker.Stop(), 0);
}

}  // namespace
}  // namespace pulse::testing
