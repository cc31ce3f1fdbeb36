// `pulse broker`: the embedded Kafka-protocol broker as a process, for local
// multi-process use and tests. Prints `bootstrap=HOST:PORT[,...]` as its
// first stdout line, then serves until SIGTERM. With --faults, its HTTP
// server also takes fault-injection commands (broker_faults.h).

#include <cstdio>
#include <fstream>

#include "cli/broker_faults.h"
#include "cli/command.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/shutdown.h"

namespace pulse::cli {

namespace {

struct BrokerFlags {
  CommonFlags common;
  int brokers = 1;
  int partitions = 0;
  std::vector<std::string> extra_topics;
  std::string bootstrap_file;
  bool faults = false;
};

int RunBroker(const BrokerFlags& f) {
  std::map<std::string, std::string> overrides;
  if (f.partitions > 0) {
    overrides["kafka.partitions"] = std::to_string(f.partitions);
  }
  auto config = LoadConfig(f.common, overrides);
  if (!config.ok()) {
    return Fail("broker", config.status());
  }
  Logger log("broker");

  // Start the cluster with Pulse's topics (and any extra ones) created.
  Topics topics = Topics::FromPrefix(config->GetString("kafka.topic_prefix"));
  EmbeddedBroker::Options o;
  o.brokers = f.brokers;
  o.partitions = static_cast<int>(config->GetInt("kafka.partitions"));
  o.topics = topics.All();
  o.topics.insert(o.topics.end(), f.extra_topics.begin(), f.extra_topics.end());
  auto broker = EmbeddedBroker::Start(o);
  if (!broker.ok()) {
    return Fail("broker", broker.status());
  }

  // The contract: the bootstrap address is the first line on stdout.
  const std::string& bootstrap = (*broker)->bootstrap();
  std::printf("bootstrap=%s\n", bootstrap.c_str());
  std::fflush(stdout);
  if (!f.bootstrap_file.empty()) {
    std::string tmp = f.bootstrap_file + ".tmp";
    std::ofstream(tmp) << bootstrap << "\n";
    std::rename(tmp.c_str(), f.bootstrap_file.c_str());
  }

  auto http = StartHttp(*config, [&](HttpServer& server) {
    if (f.faults) {
      RegisterFaultEndpoints(server, (*broker)->cluster(), o.brokers);
    }
  });
  if (!http.ok()) {
    return Fail("broker", http.status());
  }
  Health::Get().SetReady("broker", true);
  log.Info("broker_started", {{"bootstrap", bootstrap},
                              {"brokers", o.brokers},
                              {"partitions", o.partitions},
                              {"topics", static_cast<int64_t>(o.topics.size())},
                              {"faults", f.faults}});

  while (!StopSignal::Get().WaitFor(std::chrono::seconds(60))) {
  }
  log.Info("broker_stopped", {{"reason", StopSignal::Get().reason()}});
  return 0;
}

}  // namespace

void RegisterBroker(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<BrokerFlags>();
  CLI::App* cmd = app.add_subcommand(
      "broker",
      "Run the embedded Kafka-protocol broker (in memory; data is lost when "
      "it stops). Prints bootstrap=HOST:PORT first.");
  AddCommonFlags(*cmd, flags->common);
  cmd->add_option("--brokers", flags->brokers, "number of brokers")
      ->check(CLI::Range(1, 9));
  cmd->add_option("--partitions", flags->partitions,
                  "partitions per topic (default: kafka.partitions)")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--topic", flags->extra_topics,
                  "another topic to create (repeatable)");
  cmd->add_option("--bootstrap-file", flags->bootstrap_file,
                  "also write the bootstrap address to this file");
  cmd->add_flag("--faults", flags->faults,
                "accept fault-injection commands on the HTTP port (POST "
                "/faults/errors, /faults/clear, /faults/broker, "
                "/faults/leader, /faults/rtt); for tests and chaos runs");
  cmd->callback([flags, &exit_code] { exit_code = RunBroker(*flags); });
}

}  // namespace pulse::cli
