// scripts/bench --smoke end to end: on 100k rows the script sets up its own
// PostgreSQL, runs every section, stops what it started and writes its
// report, in which Pulse's answer to each dashboard question equals the
// seed's SQL on the raw table. No timing is asserted: the machine is shared
// and the smoke run is too short to mean anything.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "tests/harness/subprocess.h"

namespace pulse::testing {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

TEST(BenchSmokeTest, ScriptRunsAndPulseAnswersEqualRawQueries) {
  // A world-readable folder: the script's PostgreSQL runs as the postgres
  // OS user when the test runs as root.
  std::string dir = MakeTempDir("bench-smoke");
  ASSERT_FALSE(dir.empty());
  chmod(dir.c_str(), 0755);
  std::string report_path = dir + "/benchmarks.md";

  // The already-built binary; the script finds the benchmark programs
  // beside it (<build>/bench) and reports any that are missing.
  Subprocess bench({.argv = {"/bin/bash", PULSE_BENCH_SCRIPT, "--smoke",
                             "--out", report_path},
                    .env = {{"PULSE_BINARY", PulseBinary()},
                            {"PULSE_BENCH_DATA", dir + "/data"}}});
  std::optional<int> code = bench.Wait(minutes(13));
  if (!code) {
    // SIGTERM first: the script's trap stops PostgreSQL and the pipeline.
    bench.Stop(seconds(60));
  }
  ASSERT_EQ(code, 0) << "scripts/bench --smoke failed:\n" << bench.Stderr();

  std::string report = ReadFile(report_path);
  SCOPED_TRACE(report);
  for (const char* q : {"Q1", "Q2", "Q3", "Q4"}) {
    EXPECT_NE(report.find(std::string("100k ") + q + " answers equal: yes"),
              std::string::npos)
        << q;
  }
  EXPECT_EQ(report.find("answers equal: no"), std::string::npos);
  for (const char* section :
       {"## Machine", "## 1. Dashboard questions", "## 2. Incremental cost",
        "## 3. Pipeline throughput", "## 4. Freshness", "## 5. Components",
        "## 6. Memory"}) {
    EXPECT_NE(report.find(section), std::string::npos) << section;
  }

  // On success the script removes its run folder (after stopping the
  // PostgreSQL that lived in it).
  std::error_code ec;
  EXPECT_TRUE(std::filesystem::is_empty(dir + "/data", ec)) << ec.message();
  RemoveTree(dir);
}

}  // namespace
}  // namespace pulse::testing
