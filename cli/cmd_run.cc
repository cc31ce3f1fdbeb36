// `pulse run`: ingest, aggregator and sink in one process. With no brokers
// configured it starts the embedded broker in the process; since that
// broker keeps data in memory only, the replication slot is then
// acknowledged only past rows whose rollups the sink has committed, and
// each stage holds back to stay within the broker's retention. A kill -9
// at any moment loses nothing: the restart replays from the slot and the
// replays are recognised.
//
// Threads: one per stage, plus the broker's and librdkafka's own. A stage
// that fails stops the others; the exit code is the first failure's.

#include <fmt/format.h>

#include <mutex>
#include <thread>

#include "aggregator/aggregator.h"
#include "cli/command.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/shutdown.h"
#include "ingest/ingest.h"
#include "sink/sink.h"

namespace pulse::cli {

namespace {

// Runs stages on threads; remembers the first failure and stops the rest.
class Stages {
 public:
  void Start(const std::string& name, std::function<Status()> body) {
    threads_.emplace_back([this, name, body = std::move(body)] {
      Status st = body();
      if (!st.ok() && st.code() != Status::Code::kCancelled) {
        std::lock_guard<std::mutex> lock(mu_);
        if (first_.ok()) {
          first_ = st.WithContext(name);
        }
        StopSignal::Get().Request(name + " failed");
      }
    });
  }
  Status Join() {
    for (std::thread& t : threads_) {
      t.join();
    }
    return first_;
  }

 private:
  std::mutex mu_;
  Status first_;
  std::vector<std::thread> threads_;
};

void LogProgress(const Logger& log) {
  log.Info(
      "progress",
      {{"rows_in", MetricSum("pulse_ingest_rows_total")},
       {"events_applied",
        MetricSum("pulse_aggregator_events_total", {{"outcome", "applied"}})},
       {"rollups_committed",
        MetricSum("pulse_sink_messages_total", {{"outcome", "applied"}})},
       {"freshness_s", MetricSum("pulse_sink_freshness_seconds")},
       {"lag_messages", MetricSum("pulse_aggregator_consumer_lag_messages")}});
}

int RunAll(const CommonFlags& flags) {
  auto config = LoadConfig(flags);
  if (!config.ok()) {
    return Fail("run", config.status());
  }
  Logger log("run");

  // Without brokers, the embedded one, with every topic created.
  std::unique_ptr<EmbeddedBroker> broker;
  bool embedded = config->GetString("kafka.brokers").empty();
  if (embedded) {
    Topics topics = Topics::FromPrefix(config->GetString("kafka.topic_prefix"));
    auto b = EmbeddedBroker::Start(
        {.brokers = 1,
         .partitions = static_cast<int>(config->GetInt("kafka.partitions")),
         .topics = topics.All()});
    if (!b.ok()) {
      return Fail("run", b.status());
    }
    broker = std::move(b).value();
    Status st = config->Set("kafka.brokers", broker->bootstrap());
    if (!st.ok()) {
      return Fail("run", st);
    }
    log.Info("embedded_broker_started", {{"bootstrap", broker->bootstrap()}});
  }

  // Every stage's options from the one configuration.
  auto ingest_options = ingest::IngestOptionsFromConfig(*config, embedded);
  auto aggregator_options =
      aggregator::AggregatorOptionsFromConfig(*config, embedded);
  auto sink_options = sink::SinkOptionsFromConfig(*config);
  for (const Status& st : {ingest_options.status(), aggregator_options.status(),
                           sink_options.status()}) {
    if (!st.ok()) {
      return Fail("run", st);
    }
  }
  ingest_options->pace_by_consumed = embedded;
  aggregator_options->assign_all = embedded;
  sink_options->assign_all = embedded;

  // The embedded broker answers a fetch that finds no data only after the
  // whole fetch.wait.max.ms (librdkafka's default 500 ms): it does not wake
  // a waiting fetch when data arrives, as Kafka does. Each consumer hop
  // then adds up to that wait to freshness, so poll it briefly instead
  // (a user's own kafka.properties value wins).
  if (embedded) {
    for (auto* properties :
         {&aggregator_options->properties, &sink_options->properties}) {
      properties->emplace("fetch.wait.max.ms", "20");
    }
  }
  auto http = StartHttp(*config);
  if (!http.ok()) {
    return Fail("run", http.status());
  }

  // TODO(#5): a 1M-row backfill takes 20-24 s here, not 10 s: the sink's
  // ~2M rollup upserts share two cores with PostgreSQL's decoding.
  // The sink first (it creates the schema the others read), then the
  // aggregator, then the ingest.
  Stages stages;
  stages.Start("sink", [&] { return sink::RunSink(*sink_options); });
  stages.Start("aggregator",
               [&] { return aggregator::RunAggregator(*aggregator_options); });
  stages.Start("ingest", [&] { return ingest::RunIngest(*ingest_options); });
  log.Info("run_started", {{"embedded_broker", embedded},
                           {"ack", embedded ? "sink" : "delivered"}});

  while (!StopSignal::Get().WaitFor(config->GetDuration("progress_interval"))) {
    LogProgress(log);
  }
  Status st = stages.Join();
  log.Info("run_stopped", {{"reason", StopSignal::Get().reason()}});
  return st.ok() ? 0 : Fail("run", st);
}

}  // namespace

void RegisterRun(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<CommonFlags>();
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Run ingest, aggregator and sink in one process; with no "
      "kafka.brokers, on an embedded in-memory broker");
  AddCommonFlags(*cmd, *flags);
  cmd->callback([flags, &exit_code] { exit_code = RunAll(*flags); });
}

}  // namespace pulse::cli
