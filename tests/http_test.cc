// Every long-running command serves /metrics, /healthz and /readyz, and
// stops cleanly on SIGTERM.

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include "tests/harness/subprocess.h"
#include "tests/harness/wait.h"

namespace pulse::testing {
namespace {

using std::chrono::seconds;

TEST(HttpTest, BrokerServesMetricsHealthAndReadiness) {
  int port = FreePort();
  Subprocess broker({.argv = {PulseBinary(), "broker"},
                     .env = {{"PULSE_HTTP_PORT", std::to_string(port)},
                             {"PULSE_HTTP_BIND", "127.0.0.1"}}});
  ASSERT_TRUE(broker.WaitForStdoutLine("bootstrap=", seconds(30)));
  ASSERT_TRUE(broker.WaitForStderr("http_listening", seconds(30)));

  httplib::Client client("127.0.0.1", port);
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->get_header_value("Content-Type").find("text/plain"),
            std::string::npos);
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto ready = client.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_NE(ready->body.find("broker ready"), std::string::npos);

  broker.Signal(SIGTERM);
  EXPECT_EQ(broker.Wait(seconds(20)), 0);
  EXPECT_TRUE(
      broker.WaitForStderr("broker_stopped reason=SIGTERM", seconds(1)));
}

TEST(HttpTest, UnreachableDatabaseEndsWithAFailedLine) {
  // A sink that cannot reach its database says so and exits non-zero.
  int port = FreePort();
  Subprocess sink(
      {.argv = {PulseBinary(), "sink"},
       .env = {{"PULSE_HTTP_PORT", std::to_string(port)},
               {"PULSE_HTTP_BIND", "127.0.0.1"},
               {"PULSE_KAFKA_BROKERS", "127.0.0.1:1"},
               {"PULSE_TARGET_URL", "postgresql://nobody@127.0.0.1:1/none"}}});
  auto code = sink.Wait(seconds(60));
  ASSERT_TRUE(code.has_value());
  EXPECT_NE(*code, 0);
  EXPECT_NE(sink.Stderr().find("failed code="), std::string::npos);
}

TEST(HttpTest, JsonLogsAreOneObjectPerLine) {
  Subprocess config(
      {.argv = {PulseBinary(), "broker"},
       .env = {{"PULSE_HTTP_PORT", "0"}, {"PULSE_LOG_FORMAT", "json"}}});
  ASSERT_TRUE(
      config.WaitForStderr("\"event\":\"broker_started\"", seconds(30)));
  EXPECT_EQ(config.Stop(), 0);
  std::string err = config.Stderr();
  size_t start = 0;
  while (start < err.size()) {
    size_t end = err.find('\n', start);
    std::string line = err.substr(start, end - start);
    EXPECT_EQ(line.front(), '{') << line;
    EXPECT_EQ(line.back(), '}') << line;
    start = end == std::string::npos ? err.size() : end + 1;
  }
}

}  // namespace
}  // namespace pulse::testing
