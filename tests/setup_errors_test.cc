// Mistakes at setup, as an operator makes them: a wrong password, a host
// that is not there, brokers that are not there, a configuration file
// with unknown keys or values of the wrong type. Each gets a message that
// names what is wrong (and never prints the password) and the exit code
// of command.h; a source that is merely down is retried, not given up.

#include <gtest/gtest.h>

#include <fstream>

#include "tests/harness/ingest_fixture.h"
#include "tests/harness/wait.h"

namespace pulse::testing {
namespace {

using std::chrono::seconds;

constexpr const char* kWrongPassword = "wrong-pw-7c1f";

class SetupErrorsTest : public IngestFixture {
 protected:
  // Runs `pulse <argv...>` with the fixture's environment and `extra`
  // until it exits; returns its exit code and stderr.
  int Run(const std::vector<std::string>& argv,
          const std::map<std::string, std::string>& extra, std::string& err,
          std::chrono::seconds timeout = seconds(60)) {
    auto env = PulseEnv();
    for (const auto& [k, v] : extra) {
      env[k] = v;
    }
    std::vector<std::string> full = {PulseBinary()};
    full.insert(full.end(), argv.begin(), argv.end());
    Subprocess p({.argv = full, .env = env, .log_dir = {}});
    auto code = p.Wait(timeout);
    err = p.Stderr();
    return code.value_or(-1);
  }

  std::string WrongPasswordUrl() const {
    std::string db = url_.substr(url_.rfind('/') + 1);
    return SharedPgServer().UrlAs(PgServer::kSuperuser, kWrongPassword, db);
  }

  // A URL of a port nobody listens on, with a password in it.
  static std::string NobodyUrl() {
    return "postgresql://pulse:" + std::string(kWrongPassword) +
           "@127.0.0.1:" + std::to_string(FreePort()) + "/directus";
  }
};

TEST_F(SetupErrorsTest, WrongPasswordStopsWithExitThreeAndNoSecret) {
  for (std::string command : {"ingest", "sink"}) {
    SCOPED_TRACE(command);
    std::string err;
    int code = Run({command}, {{"PULSE_SOURCE_URL", WrongPasswordUrl()}}, err);
    EXPECT_EQ(code, 3) << err;
    EXPECT_NE(err.find("password authentication failed"), std::string::npos)
        << err;
    EXPECT_NE(err.find("check the user and password"), std::string::npos);
    EXPECT_EQ(err.find(kWrongPassword), std::string::npos) << err;
  }
}

TEST_F(SetupErrorsTest, UnreachableTargetStopsTheSinkNamingTheHost) {
  std::string err;
  int code = Run({"sink"}, {{"PULSE_SOURCE_URL", NobodyUrl()}}, err);
  EXPECT_EQ(code, 1) << err;
  EXPECT_NE(err.find("cannot connect to postgresql://pulse:***@127.0.0.1:"),
            std::string::npos)
      << err;
  EXPECT_EQ(err.find(kWrongPassword), std::string::npos) << err;
}

TEST_F(SetupErrorsTest, UnreachableSourceIsRetriedWithGrowingBackoff) {
  auto env = PulseEnv();
  env["PULSE_SOURCE_URL"] = NobodyUrl();
  Subprocess ingest(
      {.argv = {PulseBinary(), "ingest"}, .env = env, .log_dir = {}});

  // It waits for the database instead of exiting, and says why.
  ASSERT_TRUE(ingest.WaitForStderr("retry_in_ms=2000", seconds(30)))
      << ingest.Stderr();
  EXPECT_TRUE(ingest.running());
  std::string err = ingest.Stderr();
  EXPECT_NE(err.find("source_unavailable"), std::string::npos) << err;
  EXPECT_NE(err.find("Connection refused"), std::string::npos) << err;
  EXPECT_EQ(err.find(kWrongPassword), std::string::npos) << err;
  EXPECT_EQ(ingest.Stop(), 0);
}

TEST_F(SetupErrorsTest, UnreachableBrokerStopsAggregateAndSinkNamingIt) {
  std::string brokers = "127.0.0.1:" + std::to_string(FreePort());
  for (std::string command : {"aggregate", "sink"}) {
    SCOPED_TRACE(command);
    std::string err;
    int code = Run({command}, {{"PULSE_KAFKA_BROKERS", brokers}}, err);
    EXPECT_EQ(code, 1) << err;
    EXPECT_NE(err.find("kafka.brokers=" + brokers), std::string::npos) << err;
  }
}

TEST_F(SetupErrorsTest, BadConfigFileExitsTwoNamingTheKey) {
  struct Case {
    std::string yaml;
    std::string named;
  };
  const std::vector<Case> cases = {
      {"ingest:\n  slott: x\n", "unknown key 'ingest.slott'"},
      {"sink:\n  batch_messages: 200\n  colour: red\n",
       "unknown key 'sink.colour'"},
      {"http:\n  port: eighty\n", "http.port: 'eighty' is not valid"},
      {"kafka:\n  partitions: [1, 2]\n", "kafka.partitions"},
      {"aggregator:\n  flush_interval: soon\n", "aggregator.flush_interval"},
      {"alerts:\n  allow_list: 10.0.0.1\n  suspicious:\n    threshold: "
       "true\n",
       "alerts.suspicious.threshold"},
      {"log:\n  level: chatty\n", "log.level"},
  };
  std::string path = state_dir_ + "/bad.yaml";
  for (const Case& c : cases) {
    std::ofstream(path) << c.yaml;
    for (std::string command : {"ingest", "aggregate", "sink", "run"}) {
      SCOPED_TRACE(command + " with " + c.yaml);
      std::string err;
      int code = Run({command, "--config", path}, {}, err, seconds(30));
      EXPECT_EQ(code, 2) << err;
      EXPECT_NE(err.find(c.named), std::string::npos) << err;
    }
  }
}

}  // namespace
}  // namespace pulse::testing
