// Configuration errors at the command line: unknown keys and wrong types
// are refused with exit code 2 and the key named.

#include <gtest/gtest.h>

#include <fstream>
#include <vector>

#include "tests/harness/subprocess.h"

namespace pulse::testing {
namespace {

using std::chrono::seconds;

struct Case {
  const char* name;
  const char* yaml;
  const char* named;
  std::vector<const char*> commands = {"ingest", "aggregate", "sink", "run"};
};

class ConfigCliTest : public ::testing::TestWithParam<Case> {};

TEST_P(ConfigCliTest, BadFileIsRefusedNamingTheKey) {
  std::string dir = MakeTempDir("pulse-config");
  std::string path = dir + "/pulse.yaml";
  std::ofstream(path) << GetParam().yaml;
  for (const char* command : GetParam().commands) {
    SCOPED_TRACE(command);
    Subprocess p({.argv = {PulseBinary(), command, "--config", path}});
    EXPECT_EQ(p.Wait(seconds(30)), 2);
    EXPECT_NE(p.Stderr().find(GetParam().named), std::string::npos)
        << p.Stderr();
  }
  RemoveTree(dir);
}

INSTANTIATE_TEST_SUITE_P(
    Files, ConfigCliTest,
    ::testing::Values(
        Case{"UnknownKey", "ingest:\n  slott: x\n", "ingest.slott"},
        Case{"NotAnInteger", "kafka:\n  partitions: many\n",
             "kafka.partitions"},
        Case{"NotADuration", "aggregator:\n  flush_interval: soon\n",
             "aggregator.flush_interval"},
        Case{"NotACidr",
             "alerts:\n  allow_list: [not-a-cidr/99]\n",
             "alerts.allow_list",
             {"aggregate", "run"}}),
    [](const ::testing::TestParamInfo<Case>& info) {
      return std::string(info.param.name);
    });

TEST(ConfigCliTest, ReferenceListsEveryEnvironmentVariable) {
  Subprocess p({.argv = {PulseBinary(), "config", "--reference"}});
  EXPECT_EQ(p.Wait(seconds(30)), 0);
  for (const char* env :
       {"PULSE_SOURCE_URL", "PULSE_TARGET_URL", "PULSE_KAFKA_BROKERS",
        "PULSE_STATE_DIR", "PULSE_HTTP_PORT"}) {
    EXPECT_NE(p.Stdout().find(env), std::string::npos) << env;
  }
}

}  // namespace
}  // namespace pulse::testing
