#include "ingest/ingest.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "common/log.h"
#include "common/metrics.h"
#include "common/shutdown.h"
#include "ingest/session.h"

namespace pulse::ingest {

namespace {

// With the embedded broker a partition keeps ~5 MiB; lz4-compressed
// activity messages take about 90 bytes there. What one partition can hold
// unread is at most max_ahead delivered plus everything in flight, which
// these bounds keep near 3 MB.
constexpr int64_t kEmbeddedMaxAhead = 15000;
constexpr int64_t kEmbeddedMaxInFlight = 15000;

}  // namespace

Result<IngestOptions> IngestOptionsFromConfig(const Config& config,
                                              bool embedded) {
  IngestOptions o;
  o.source_url = config.GetString("source.url");
  o.target_url = config.GetString("target.url");
  if (o.target_url.empty()) {
    o.target_url = o.source_url;
  }
  o.names = MakeSourceNames(config.GetString("ingest.table"),
                            config.GetString("ingest.publication"),
                            config.GetString("ingest.slot"));
  o.snapshot = config.GetString("ingest.snapshot") == "initial";
  o.snapshot_checkpoint_rows =
      std::max<int64_t>(1, config.GetInt("ingest.snapshot_checkpoint_rows"));
  o.state_dir = config.GetString("state_dir");
  o.status_interval = config.GetDuration("ingest.status_interval");
  o.heartbeat_interval = config.GetDuration("ingest.heartbeat_interval");
  o.progress_interval = config.GetDuration("progress_interval");

  // Acknowledge on delivery to a real Kafka; with the in-memory broker,
  // only past what the sink has committed.
  const std::string& ack = config.GetString("ingest.ack");
  o.ack = ack == "sink" || (ack == "auto" && embedded) ? AckMode::kSink
                                                       : AckMode::kDelivered;
  o.max_ahead = config.GetInt("ingest.max_ahead");
  if (o.max_ahead < 0) {
    o.max_ahead = embedded ? kEmbeddedMaxAhead : 0;
  }

  o.kafka.brokers = config.GetString("kafka.brokers");
  o.kafka.topic =
      Topics::FromPrefix(config.GetString("kafka.topic_prefix")).activity;
  o.kafka.compression = config.GetString("ingest.compression");
  o.kafka.max_in_flight = config.GetInt("ingest.max_in_flight");
  if (embedded) {
    o.kafka.max_in_flight =
        std::min(o.kafka.max_in_flight, kEmbeddedMaxInFlight);
  }
  o.kafka.properties = config.GetMap("kafka.properties");

  if (o.kafka.brokers.empty()) {
    return Status::InvalidArgument(
        "kafka.brokers is empty: set PULSE_KAFKA_BROKERS (or use `pulse "
        "run`, which starts an embedded broker)");
  }
  if (o.names.slot.empty() || o.names.publication.empty()) {
    return Status::InvalidArgument(
        "ingest.slot and ingest.publication must not be empty");
  }
  return o;
}

Status RunIngest(const IngestOptions& o) {
  Logger log("ingest");
  IngestMetrics metrics;
  Health::Get().Register("ingest");

  // The state folder holds the snapshot checkpoint.
  std::error_code ec;
  std::filesystem::create_directories(o.state_dir, ec);
  if (ec) {
    return Status::FailedPrecondition(fmt::format(
        "state_dir {}: cannot create it: {}", o.state_dir, ec.message()));
  }

  // The producer outlives sessions: rows in flight survive a reconnect.
  IngestShared shared;
  shared.recreate_pending = o.recreate_slot;
  PULSE_ASSIGN_OR_RETURN(shared.publisher,
                         Publisher::Create(o.kafka, &shared.tracker));
  if (o.ack == AckMode::kSink || o.max_ahead > 0) {
    shared.horizon = std::make_unique<HorizonReader>(
        o.target_url, o.kafka.topic, shared.publisher->cluster_id());
  }
  log.Info("ingest_started",
           {{"table", o.names.QualifiedTable()},
            {"slot", o.names.slot},
            {"topic", o.kafka.topic},
            {"partitions", shared.publisher->partitions()},
            {"ack", o.ack == AckMode::kSink ? "sink" : "delivered"},
            {"max_ahead", o.max_ahead}});

  // Sessions until stopped; PostgreSQL going away is retried with backoff.
  std::chrono::milliseconds backoff(500);
  while (true) {
    auto started = std::chrono::steady_clock::now();
    Session session(o, shared, metrics);
    Status st = session.Run();

    // A session that ended midway leaves a transaction or snapshot chunk
    // open; the next one sends those rows again, so the open unit must
    // not hold back every later one (which would stop acknowledging WAL
    // and, during a snapshot, never let it finish).
    shared.tracker.AbandonOpen();
    shared.snapshot_tracker.AbandonOpen();
    if (std::chrono::steady_clock::now() - started > std::chrono::minutes(1)) {
      backoff = std::chrono::milliseconds(500);  // it had been healthy
    }
    Health::Get().SetReady("ingest", false);
    if (st.code() == Status::Code::kCancelled ||
        StopSignal::Get().requested()) {
      log.Info("ingest_stopped", {{"acked", shared.acked.ToString()}});
      return Status::Ok();
    }
    if (st.code() != Status::Code::kUnavailable) {
      return st;
    }
    metrics.reconnects.Increment();
    log.Warn("source_unavailable",
             {{"error", st.message()}, {"retry_in_ms", backoff.count()}});
    if (StopSignal::Get().WaitFor(backoff)) {
      return Status::Ok();
    }
    backoff = std::min(backoff * 2, std::chrono::milliseconds(30000));
  }
}

}  // namespace pulse::ingest
