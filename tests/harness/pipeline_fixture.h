// PipelineFixture: the IngestFixture's database and broker, plus the
// aggregator and sink as `pulse` processes, and the checks that the
// rollups equal the raw table.

#ifndef PULSE_TESTS_HARNESS_PIPELINE_FIXTURE_H_
#define PULSE_TESTS_HARNESS_PIPELINE_FIXTURE_H_

#include <map>
#include <memory>
#include <string>

#include "tests/harness/ingest_fixture.h"
#include "tests/harness/rollup_check.h"

namespace pulse::testing {

class PipelineFixture : public IngestFixture {
 protected:
  void SetUp() override;
  void TearDown() override;

  // `pulse <command>` with the fixture's environment and `extra` settings.
  // Processes started with the same `state_key` (default: the command)
  // share a state folder, as a restarted pod keeps its volume.
  std::unique_ptr<Subprocess> StartPulse(
      const std::string& command,
      const std::map<std::string, std::string>& extra = {},
      const std::string& state_key = "");

  // Waits until the sink has applied `events` events (or times out).
  bool WaitForApplied(int64_t events, std::chrono::milliseconds timeout);
  int64_t RawCount();

  // The rollups equal the raw table, every table, every granularity.
  void ExpectExact();

  std::map<std::string, std::string> state_dirs_;
};

}  // namespace pulse::testing

#endif  // PULSE_TESTS_HARNESS_PIPELINE_FIXTURE_H_
