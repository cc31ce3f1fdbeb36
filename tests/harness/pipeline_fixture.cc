#include "tests/harness/pipeline_fixture.h"

#include "tests/harness/wait.h"

namespace pulse::testing {

void PipelineFixture::SetUp() {
  IngestFixture::SetUp();
  ASSERT_TRUE(conn_.Run("CREATE EXTENSION IF NOT EXISTS hll").ok());
}

void PipelineFixture::TearDown() {
  for (const auto& [key, dir] : state_dirs_) {
    RemoveTree(dir);
  }
  IngestFixture::TearDown();
}

std::unique_ptr<Subprocess> PipelineFixture::StartPulse(
    const std::string& command, const std::map<std::string, std::string>& extra,
    const std::string& state_key) {
  auto env = PulseEnv();
  std::string& dir = state_dirs_[state_key.empty() ? command : state_key];
  if (dir.empty()) {
    dir = MakeTempDir("pulse-" + command);
  }
  env["PULSE_STATE_DIR"] = dir;
  env["PULSE_KAFKA_PROPERTIES"] = "session.timeout.ms=6000";
  env["PULSE_LOG_LEVEL"] = "debug";
  for (const auto& [k, v] : extra) {
    env[k] = v;
  }
  return std::make_unique<Subprocess>(
      Subprocess::Options{.argv = {PulseBinary(), command}, .env = env});
}

bool PipelineFixture::WaitForApplied(int64_t events,
                                     std::chrono::milliseconds timeout) {
  return WaitFor([&] { return EventsApplied(conn_) >= events; }, timeout,
                 std::chrono::milliseconds(200));
}

int64_t PipelineFixture::RawCount() {
  auto r = conn_.Exec("SELECT count(*) FROM directus_activity");
  return r.ok() ? r->GetInt(0, 0) : -1;
}

void PipelineFixture::ExpectExact() {
  auto mismatches = CompareRollups(conn_);
  EXPECT_TRUE(mismatches.empty()) << Describe(mismatches);
  EXPECT_EQ(EventsApplied(conn_), RawCount());
}

}  // namespace pulse::testing
