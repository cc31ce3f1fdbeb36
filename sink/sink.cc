#include "sink/sink.h"

#include <fmt/format.h>

#include <optional>
#include <vector>

#include "common/log.h"
#include "common/metrics.h"
#include "common/shutdown.h"
#include "sink/writer.h"

namespace pulse::sink {

namespace {

constexpr int kMaxAbortRetries = 5;
// Attempts to read the offsets at a rebalance: about 20 s of backoff.
constexpr int kMaxOffsetAttempts = 8;

struct SinkMetrics {
  prometheus::Counter& applied =
      CounterMetric("pulse_sink_messages_total", "Rollup messages, by outcome",
                    {{"outcome", "applied"}});
  prometheus::Counter& skipped =
      CounterMetric("pulse_sink_messages_total", "Rollup messages, by outcome",
                    {{"outcome", "skipped"}});
  prometheus::Counter& rejected =
      CounterMetric("pulse_sink_messages_total", "Rollup messages, by outcome",
                    {{"outcome", "rejected"}});
  prometheus::Counter& retried =
      CounterMetric("pulse_sink_transactions_retried_total",
                    "Transactions retried after a conflict or reconnect");
  prometheus::Counter& retention_deleted =
      CounterMetric("pulse_sink_retention_deleted_rows_total",
                    "Rows of expired buckets deleted");
  prometheus::Histogram& batch_messages = SizeMetric(
      "pulse_sink_batch_messages", "Rollup messages per transaction");
  prometheus::Histogram& batch_seconds = LatencyMetric(
      "pulse_sink_batch_seconds", "Time to apply one transaction");
  prometheus::Gauge& freshness =
      GaugeMetric("pulse_sink_freshness_seconds",
                  "Now minus the newest event time applied to the rollups");

  prometheus::Counter& Rows(const std::string& table) {
    return CounterMetric("pulse_sink_rows_upserted_total",
                         "Rollup rows inserted or updated, by table",
                         {{"table", table}});
  }
  prometheus::Gauge& Lag(int32_t partition) {
    return GaugeMetric("pulse_sink_consumer_lag_messages",
                       "Rollup messages not yet read",
                       {{"partition", std::to_string(partition)}});
  }
};

class Sink {
 public:
  explicit Sink(const SinkOptions& o) : o_(o) {}
  ~Sink() {
    if (consumer_) {
      rd_kafka_consumer_close(consumer_.get());
    }
  }

  Status Init();
  Status Run();
  void OnRebalance(rd_kafka_resp_err_t err,
                   rd_kafka_topic_partition_list_t* partitions);

 private:
  Status Connect();
  // The sink's offsets, reconnecting with backoff while PostgreSQL is
  // away (a rebalance can come in the middle of a restart).
  Result<std::map<int32_t, int64_t>> LoadOffsetsWithRetry();
  // Reads up to a batch of messages; gaps in offsets are data loss.
  Status ReadBatch(std::vector<Incoming>& batch);
  // Applies with retries: conflicts retry at once, lost connections after
  // a backoff (the batch stays in memory; decisions are re-made).
  Status ApplyWithRetry(const std::vector<Incoming>& batch);
  void Housekeeping();

  const SinkOptions& o_;
  Logger log_{"sink"};
  SinkMetrics m_;
  SchemaInfo schema_;
  std::optional<Writer> writer_;
  KafkaHandle consumer_;
  std::string cluster_;
  std::map<int32_t, int64_t> expected_;  // next offset per partition
  Status fatal_;
  EventTimeMs newest_ = 0;
  int64_t applied_total_ = 0;
  std::chrono::steady_clock::time_point last_retention_{};
  std::chrono::steady_clock::time_point last_progress_{};
  std::chrono::steady_clock::time_point fill_retry_at_{};
};

Status Sink::Connect() {
  PULSE_ASSIGN_OR_RETURN(Writer w,
                         Writer::Connect(o_.target_url, schema_, o_.retention));
  writer_.emplace(std::move(w));
  return Status::Ok();
}

Status Sink::Init() {
  // The schema first: everything else relies on it.
  PULSE_ASSIGN_OR_RETURN(PgConn conn,
                         PgConn::Connect(o_.target_url, "pulse-sink"));
  PULSE_ASSIGN_OR_RETURN(schema_, MigrateSchema(conn, o_.retention));
  PULSE_RETURN_IF_ERROR(Connect());

  PULSE_ASSIGN_OR_RETURN(KafkaConf conf,
                         MakeKafkaConf({{"bootstrap.servers", o_.brokers},
                                        {"client.id", "pulse-sink"},
                                        {"group.id", o_.group},
                                        {"enable.auto.commit", "false"},
                                        {"enable.auto.offset.store", "false"},
                                        {"auto.offset.reset", "error"},
                                        {"session.timeout.ms", "10000"},
                                        {"heartbeat.interval.ms", "1000"},
                                        {"max.poll.interval.ms", "600000"}},
                                       o_.properties));
  rd_kafka_conf_set_opaque(conf.get(), this);
  rd_kafka_conf_set_rebalance_cb(
      conf.get(), [](rd_kafka_t*, rd_kafka_resp_err_t err,
                     rd_kafka_topic_partition_list_t* parts, void* opaque) {
        static_cast<Sink*>(opaque)->OnRebalance(err, parts);
      });
  char err[512];
  consumer_.reset(
      rd_kafka_new(RD_KAFKA_CONSUMER, conf.release(), err, sizeof err));
  if (!consumer_) {
    return Status::InvalidArgument(std::string("kafka consumer: ") + err);
  }
  rd_kafka_poll_set_consumer(consumer_.get());
  auto n = PartitionCount(consumer_.get(), o_.topics.rollups, 15000);
  if (!n.ok()) {
    return Status(
        n.status().code(),
        fmt::format("kafka.brokers={}: {}", o_.brokers, n.status().message()));
  }
  PULSE_ASSIGN_OR_RETURN(cluster_, BrokerIncarnation(consumer_.get(), 15000));

  PULSE_RETURN_IF_ERROR(
      ConsumeTopic(consumer_.get(), o_.topics.rollups, o_.assign_all,
                   [this](rd_kafka_topic_partition_list_t* all) {
                     OnRebalance(RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, all);
                     return fatal_;
                   }));
  log_.Info("sink_started", {{"topic", o_.topics.rollups},
                             {"assignment", o_.assign_all ? "all" : "group"},
                             {"schema_version", schema_.version},
                             {"hll", schema_.hll}});
  return Status::Ok();
}

void Sink::OnRebalance(rd_kafka_resp_err_t err,
                       rd_kafka_topic_partition_list_t* partitions) {
  if (err != RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    expected_.clear();
    rd_kafka_assign(consumer_.get(), nullptr);
    return;
  }

  // Resume where our own offsets, committed with the data, say.
  auto offsets = LoadOffsetsWithRetry();
  if (!offsets.ok()) {
    fatal_ = offsets.status();
    return;
  }
  for (int i = 0; i < partitions->cnt; ++i) {
    rd_kafka_topic_partition_t& tp = partitions->elems[i];
    auto it = offsets->find(tp.partition);
    tp.offset = it == offsets->end() ? RD_KAFKA_OFFSET_BEGINNING : it->second;
    if (it != offsets->end()) {
      expected_[tp.partition] = it->second;
    }
    log_.Info("partition_assigned",
              {{"partition", tp.partition}, {"offset", tp.offset}});
  }
  rd_kafka_assign(consumer_.get(), partitions);
}

Result<std::map<int32_t, int64_t>> Sink::LoadOffsetsWithRetry() {
  std::chrono::milliseconds backoff(200);
  for (int attempt = 1;; ++attempt) {
    auto offsets =
        writer_ ? writer_->LoadOffsets(o_.topics.rollups, cluster_)
                : Result<std::map<int32_t, int64_t>>(
                      Status::Unavailable("not connected to the database"));
    if (offsets.ok() || offsets.status().code() != Status::Code::kUnavailable ||
        attempt >= kMaxOffsetAttempts) {
      return offsets;
    }
    log_.Warn("database_unavailable", {{"error", offsets.status().message()},
                                       {"retry_in_ms", backoff.count()}});
    if (StopSignal::Get().WaitFor(backoff)) {
      return offsets;
    }
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    writer_.reset();
    Connect().IgnoreError();  // a failure shows in the next attempt
  }
}

Status Sink::ReadBatch(std::vector<Incoming>& batch) {
  for (int i = 0; i < o_.batch_messages; ++i) {
    KafkaMessage m(rd_kafka_consumer_poll(consumer_.get(), i == 0 ? 100 : 5));
    PULSE_RETURN_IF_ERROR(fatal_);
    if (!m) {
      break;
    }
    if (m->err) {
      if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
          m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
        return Status::DataLoss(fmt::format(
            "rollups partition {}: the offset to resume from is gone from "
            "the broker; rollups in it were never applied. Run `pulse "
            "reconcile` and rebuild the affected range",
            m->partition));
      }
      log_.Warn("consume_error", {{"error", rd_kafka_err2str(m->err)}});
      continue;
    }

    // Offsets must be contiguous from where we resumed.
    auto it = expected_.find(m->partition);
    if (it != expected_.end() && m->offset > it->second) {
      return Status::DataLoss(fmt::format(
          "rollups partition {}: expected offset {}, got {}; rollup "
          "messages were dropped before the sink applied them",
          m->partition, it->second, m->offset));
    }
    if (it != expected_.end() && m->offset < it->second) {
      continue;
    }
    expected_[m->partition] = m->offset + 1;

    auto parsed =
        ParseRollupMessage({static_cast<const char*>(m->payload), m->len});
    if (!parsed.ok()) {
      return parsed.status().WithContext(fmt::format(
          "rollups partition {} offset {}", m->partition, m->offset));
    }
    batch.push_back({m->partition, m->offset, std::move(parsed).value()});
  }
  return Status::Ok();
}

Status Sink::ApplyWithRetry(const std::vector<Incoming>& batch) {
  auto started = std::chrono::steady_clock::now();
  std::chrono::milliseconds backoff(200);
  int aborts = 0;
  while (true) {
    Result<ApplyReport> r =
        writer_ ? writer_->Apply(batch, o_.topics.rollups, cluster_)
                : Result<ApplyReport>(Status::Unavailable("not connected"));
    if (r.ok()) {
      m_.applied.Increment(r->applied);
      m_.skipped.Increment(r->skipped);
      m_.rejected.Increment(r->rejected);
      for (const auto& [table, rows] : r->rows) {
        m_.Rows(table).Increment(static_cast<double>(rows));
      }
      m_.batch_messages.Observe(static_cast<double>(batch.size()));
      m_.batch_seconds.Observe(std::chrono::duration<double>(
                                   std::chrono::steady_clock::now() - started)
                                   .count());
      newest_ = std::max(newest_, r->newest_event_time);
      applied_total_ += r->events;
      return Status::Ok();
    }

    // Conflicts retry at once; a lost connection after a backoff.
    m_.retried.Increment();
    if (r.status().code() == Status::Code::kAborted &&
        ++aborts <= kMaxAbortRetries) {
      continue;
    }
    if (r.status().code() != Status::Code::kUnavailable) {
      return r.status();
    }
    log_.Warn("database_unavailable", {{"error", r.status().message()},
                                       {"retry_in_ms", backoff.count()}});
    Health::Get().SetReady("sink", false);
    if (StopSignal::Get().WaitFor(backoff)) {
      return Status::Cancelled("stop requested");
    }
    backoff = std::min(backoff * 2, std::chrono::milliseconds(10000));
    writer_.reset();
    Connect().IgnoreError();  // a failure shows in the next attempt
    Health::Get().SetReady("sink", writer_.has_value());
  }
}

void Sink::Housekeeping() {
  auto now = std::chrono::steady_clock::now();
  if (newest_ > 0) {
    m_.freshness.Set(static_cast<double>(NowMs() - newest_) / 1000.0);
  }
  if (now - last_retention_ >= o_.retention_interval && writer_) {
    last_retention_ = now;
    auto deleted = writer_->EnforceRetention();
    if (deleted.ok()) {
      m_.retention_deleted.Increment(static_cast<double>(*deleted));
    } else {
      log_.Warn("retention_failed", {{"error", deleted.status().message()}});
    }
  }
  // Rows from before the collection bitmaps get theirs, a chunk at a
  // time between batches, until one pass is done.
  if (writer_ && now >= fill_retry_at_) {
    constexpr int kFillRows = 1000;
    auto filled = writer_->FillOlderBitmaps(kFillRows);
    if (!filled.ok()) {
      fill_retry_at_ = now + std::chrono::minutes(1);
      log_.Warn("older_bitmaps_failed",
                {{"error", filled.status().message()},
                 {"retry_in_s", 60},
                 {"effect",
                  "older rows keep answering collection counts from "
                  "sketches, more slowly"}});
    }
  }
  if (now - last_progress_ >= o_.progress_interval) {
    last_progress_ = now;
    for (const auto& [p, next] : expected_) {
      int64_t low = 0, high = 0;
      if (rd_kafka_get_watermark_offsets(consumer_.get(),
                                         o_.topics.rollups.c_str(), p, &low,
                                         &high) == 0) {
        m_.Lag(p).Set(static_cast<double>(std::max<int64_t>(0, high - next)));
      }
    }
    log_.Info("progress",
              {{"events_applied", applied_total_},
               {"messages_applied", static_cast<int64_t>(m_.applied.Value())},
               {"rejected", static_cast<int64_t>(m_.rejected.Value())},
               {"freshness_s", m_.freshness.Value()}});
  }
}

Status Sink::Run() {
  Health::Get().Register("sink");
  Health::Get().SetReady("sink", true);
  while (!StopSignal::Get().requested()) {
    std::vector<Incoming> batch;
    PULSE_RETURN_IF_ERROR(ReadBatch(batch));
    if (!batch.empty()) {
      Status st = ApplyWithRetry(batch);
      if (st.code() == Status::Code::kCancelled) {
        break;
      }
      PULSE_RETURN_IF_ERROR(st);
    }
    Housekeeping();
  }
  log_.Info("sink_stopped", {{"reason", StopSignal::Get().reason()}});
  return Status::Ok();
}

}  // namespace

Result<SinkOptions> SinkOptionsFromConfig(const Config& config) {
  SinkOptions o;
  o.brokers = config.GetString("kafka.brokers");
  o.topics = Topics::FromPrefix(config.GetString("kafka.topic_prefix"));
  o.group = config.GetString("sink.group");
  o.properties = config.GetMap("kafka.properties");
  o.target_url = config.GetString("target.url");
  if (o.target_url.empty()) {
    o.target_url = config.GetString("source.url");
  }
  o.retention = RetentionSettings::FromConfig(config);
  o.batch_messages = static_cast<int>(
      std::max<int64_t>(1, config.GetInt("sink.batch_messages")));
  o.retention_interval = config.GetDuration("sink.retention_interval");
  o.progress_interval = config.GetDuration("progress_interval");
  if (o.brokers.empty()) {
    return Status::InvalidArgument(
        "kafka.brokers is empty: set PULSE_KAFKA_BROKERS (or use `pulse "
        "run`, which starts an embedded broker)");
  }
  if (o.target_url.empty()) {
    return Status::InvalidArgument(
        "target.url is empty: set PULSE_TARGET_URL (or PULSE_SOURCE_URL to "
        "keep the rollups in the Directus database)");
  }
  return o;
}

Status RunSink(const SinkOptions& options) {
  Sink sink(options);
  PULSE_RETURN_IF_ERROR(sink.Init());
  return sink.Run();
}

}  // namespace pulse::sink
