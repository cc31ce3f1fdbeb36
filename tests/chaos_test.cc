// The short chaos run (scripts/chaos, docs/chaos.md): both pipeline shapes
// under kill -9, PostgreSQL restarts, cut connections, a locked sink,
// broker faults and rebalances, with seed 1 so a failure replays. The
// script checks the rollups against the raw table in its own SQL; this
// test pins its verdict.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>
#include <sstream>

#include "tests/harness/subprocess.h"

namespace pulse::testing {
namespace {

// The summary's key=value lines.
std::map<std::string, std::string> ParseSummary(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq != std::string::npos) {
      out[line.substr(0, eq)] = line.substr(eq + 1);
    }
  }
  return out;
}

TEST(ChaosTest, ShortRunWithSeedOneStaysExactThroughTwentyKills) {
  const std::string seed = "1";
  SCOPED_TRACE("seed " + seed);
  // The script's PostgreSQL runs as the server user: it must enter here.
  std::string dir = MakeTempDir("pulse-chaos-test");
  ASSERT_EQ(chmod(dir.c_str(), 0755), 0);
  std::string summary_path = dir + "/summary.txt";
  Subprocess chaos(
      {.argv = {PULSE_CHAOS_SCRIPT, "--minutes", "2", "--seed", seed, "--out",
                summary_path},
       .env = {{"PULSE_BINARY", PulseBinary()}, {"PULSE_CHAOS_DIR", dir}},
       .log_dir = {}});

  auto code = chaos.Wait(std::chrono::minutes(15));
  std::string log = chaos.Stdout() + chaos.Stderr();
  std::string tail = log.size() > 8000 ? log.substr(log.size() - 8000) : log;
  ASSERT_TRUE(code.has_value()) << "still running after 15 minutes\n" << tail;
  EXPECT_EQ(*code, 0) << tail;

  auto summary = ParseSummary(ReadFile(summary_path));
  ASSERT_FALSE(summary.empty()) << tail;
  EXPECT_EQ(summary["mismatches"], "0") << tail;
  EXPECT_EQ(summary["result"], "PASS") << tail;
  EXPECT_GE(std::stoi(summary["kills_total"]), 20) << tail;
  EXPECT_EQ(summary["seed"], seed);
  if (!HasFailure()) {
    RemoveTree(dir);
  }
}

}  // namespace
}  // namespace pulse::testing
