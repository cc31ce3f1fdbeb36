// Setup, the consume loop, and what happens to each message. Assignment is
// in rebalance.cc, publishing in flush.cc.

#include <fmt/format.h>

#include <filesystem>

#include "aggregator/aggregator_internal.h"
#include "common/consumed_offsets.h"
#include "common/metrics.h"
#include "common/shutdown.h"

namespace pulse::aggregator {

namespace {

// With the embedded broker a rollups partition keeps ~5 MiB; rollup
// messages stay under 900 KB, so four unapplied ones always fit.
constexpr int64_t kEmbeddedMaxUnapplied = 4;

void RebalanceCallback(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                       rd_kafka_topic_partition_list_t* partitions,
                       void* opaque) {
  static_cast<Aggregator*>(opaque)->OnRebalance(err, partitions);
}

}  // namespace

Result<AggregatorOptions> AggregatorOptionsFromConfig(const Config& config,
                                                      bool embedded) {
  AggregatorOptions o;
  o.brokers = config.GetString("kafka.brokers");
  o.topics = Topics::FromPrefix(config.GetString("kafka.topic_prefix"));
  o.group = config.GetString("aggregator.group");
  o.properties = config.GetMap("kafka.properties");
  o.target_url = config.GetString("target.url");
  if (o.target_url.empty()) {
    o.target_url = config.GetString("source.url");
  }
  o.state_dir = config.GetString("state_dir");
  o.flush_interval = config.GetDuration("aggregator.flush_interval");
  o.max_batch_bytes =
      static_cast<size_t>(config.GetInt("aggregator.max_batch_bytes"));
  o.max_message_bytes =
      static_cast<size_t>(config.GetInt("aggregator.max_message_bytes"));
  o.retention_ms = {config.GetDuration("retention.minute").count(),
                    config.GetDuration("retention.hour").count(),
                    config.GetDuration("retention.day").count()};
  o.progress_interval = config.GetDuration("progress_interval");
  o.proxy_share_percent = config.GetInt("alerts.proxy_share");
  o.max_unapplied = embedded ? kEmbeddedMaxUnapplied : 0;
  o.allow_late_start = config.GetBool("aggregator.allow_late_start");

  // Alert rules; minutes are the rules' resolution.
  auto minutes = [&](const char* key) {
    return std::max<int64_t>(1, config.GetDuration(key).count() / kMsPerMinute);
  };
  o.rules.suspicious_threshold = config.GetInt("alerts.suspicious.threshold");
  o.rules.suspicious_window_min = minutes("alerts.suspicious.window");
  o.rules.cooldown_min = minutes("alerts.suspicious.cooldown");
  o.rules.login_threshold = config.GetInt("alerts.login_burst.threshold");
  o.rules.login_window_min = minutes("alerts.login_burst.window");
  for (const std::string& entry : config.GetList("alerts.allow_list")) {
    PULSE_ASSIGN_OR_RETURN(IpRange r, IpRange::Parse(entry));
    o.rules.allow.push_back(r);
  }

  if (o.brokers.empty()) {
    return Status::InvalidArgument(
        "kafka.brokers is empty: set PULSE_KAFKA_BROKERS (or use `pulse "
        "run`, which starts an embedded broker)");
  }
  if (o.target_url.empty()) {
    return Status::InvalidArgument(
        "target.url is empty: the aggregator reads the sink's progress "
        "from the analytics database; set PULSE_TARGET_URL");
  }
  return o;
}

Aggregator::Aggregator(const AggregatorOptions& o)
    : o_(o), parser_(o.max_message_bytes), proxy_(o.proxy_share_percent) {}

Aggregator::~Aggregator() {
  if (consumer_) {
    rd_kafka_consumer_close(consumer_.get());
  }
}

Status Aggregator::Init() {
  // Local state.
  std::string dir = o_.state_dir + "/aggregator";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Status::FailedPrecondition(
        fmt::format("state_dir {}: {}", o_.state_dir, ec.message()));
  }
  PULSE_ASSIGN_OR_RETURN(store_, StateStore::Open(dir));
  sink_ = std::make_unique<SinkState>(o_.target_url, o_.topics.rollups);

  // The producer of rollups, alerts and dead letters.
  PULSE_ASSIGN_OR_RETURN(KafkaConf pconf,
                         MakeKafkaConf({{"bootstrap.servers", o_.brokers},
                                        {"client.id", "pulse-aggregator"},
                                        {"enable.idempotence", "true"},
                                        {"acks", "all"},
                                        {"compression.type", "lz4"},
                                        {"linger.ms", "5"},
                                        {"message.max.bytes", "4000000"},
                                        {"message.timeout.ms", "120000"}},
                                       o_.properties));
  rd_kafka_conf_set_opaque(pconf.get(), this);
  rd_kafka_conf_set_dr_msg_cb(
      pconf.get(), [](rd_kafka_t*, const rd_kafka_message_t* m, void* op) {
        auto* self = static_cast<Aggregator*>(op);
        if (m->err) {
          ++self->delivery_failures_;
          self->delivery_error_ = rd_kafka_err2str(m->err);
          return;
        }
        if (m->_private != nullptr) {  // a rollup message
          int64_t& next = self->rollups_produced_[m->partition];
          next = std::max(next, m->offset + 1);
        }
      });
  char err[512];
  producer_.reset(
      rd_kafka_new(RD_KAFKA_PRODUCER, pconf.release(), err, sizeof err));
  if (!producer_) {
    return Status::InvalidArgument(std::string("kafka producer: ") + err);
  }

  // The consumer: offsets come from the sink's records, never from Kafka's
  // group offsets, and a missing offset is an error, not a silent reset.
  PULSE_ASSIGN_OR_RETURN(KafkaConf cconf,
                         MakeKafkaConf({{"bootstrap.servers", o_.brokers},
                                        {"client.id", "pulse-aggregator"},
                                        {"group.id", o_.group},
                                        {"enable.auto.commit", "false"},
                                        {"enable.auto.offset.store", "false"},
                                        {"auto.offset.reset", "error"},
                                        {"session.timeout.ms", "10000"},
                                        {"heartbeat.interval.ms", "1000"},
                                        {"max.poll.interval.ms", "600000"}},
                                       o_.properties));
  rd_kafka_conf_set_opaque(cconf.get(), this);
  rd_kafka_conf_set_rebalance_cb(cconf.get(), RebalanceCallback);
  consumer_.reset(
      rd_kafka_new(RD_KAFKA_CONSUMER, cconf.release(), err, sizeof err));
  if (!consumer_) {
    return Status::InvalidArgument(std::string("kafka consumer: ") + err);
  }
  rd_kafka_poll_set_consumer(consumer_.get());

  // Fail fast on missing brokers or topics, with the settings named.
  for (const std::string& t : {o_.topics.activity, o_.topics.rollups}) {
    auto n = PartitionCount(producer_.get(), t, 15000);
    if (!n.ok()) {
      return Status(n.status().code(),
                    fmt::format("kafka.brokers={}: {}", o_.brokers,
                                n.status().message()));
    }
  }
  PULSE_ASSIGN_OR_RETURN(cluster_id_,
                         BrokerIncarnation(producer_.get(), 15000));

  PULSE_RETURN_IF_ERROR(ConsumeTopic(
      consumer_.get(), o_.topics.activity, o_.assign_all,
      [this](rd_kafka_topic_partition_list_t* all) { return Assign(all); }));
  log_.Info("aggregator_started",
            {{"group", o_.group},
             {"assignment", o_.assign_all ? "all" : "group"},
             {"topic", o_.topics.activity},
             {"flush_interval_ms", o_.flush_interval.count()},
             {"cluster", cluster_id_}});
  return Status::Ok();
}

Status Aggregator::Run() {
  Health::Get().Register("aggregator");
  Health::Get().SetReady("aggregator", true);
  last_flush_ = Clock::now();

  while (!StopSignal::Get().requested()) {
    // Read what is there, up to a flush's worth of time.
    now_ms_ = NowMs();
    for (int i = 0; i < 10000 && fatal_.ok(); ++i) {
      KafkaMessage m(rd_kafka_consumer_poll(consumer_.get(), i == 0 ? 50 : 0));
      if (!m) {
        break;
      }
      PULSE_RETURN_IF_ERROR(Handle(m.get()));
      auto it = work_.find(m->partition);
      bool big = it != work_.end() &&
                 it->second->ApproximateBytes() > o_.max_batch_bytes;
      if (big || Clock::now() - last_flush_ >= o_.flush_interval) {
        break;
      }
    }
    PULSE_RETURN_IF_ERROR(fatal_);
    for (const auto& [p, w] : work_) {
      if (w->to >= 0) {
        ConsumedOffsets::Get().Set(o_.topics.activity, p, w->to);
      }
    }

    // Publish on the interval, or early when a batch grows large.
    bool big = false;
    for (const auto& [p, w] : work_) {
      big = big || w->ApproximateBytes() > o_.max_batch_bytes;
    }
    PULSE_RETURN_IF_ERROR(MaybeFlush(big));
    UpdateLag();
    LogProgress();
  }

  // Clean stop: what was read is published and recorded.
  PULSE_RETURN_IF_ERROR(Flush());
  log_.Info("aggregator_stopped", {{"reason", StopSignal::Get().reason()}});
  return Status::Ok();
}

Status Aggregator::Handle(const rd_kafka_message_t* m) {
  if (m->err) {
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      return Status::Ok();
    }
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
        m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
      return Status::DataLoss(fmt::format(
          "partition {} of {}: the offset to resume from is no longer in "
          "the topic (the broker dropped it: the embedded broker keeps ~5 "
          "MiB per partition, Kafka its retention). Those rows were never "
          "counted; run `pulse reconcile` over the affected time",
          m->partition, o_.topics.activity));
    }
    log_.Warn("consume_error", {{"error", rd_kafka_err2str(m->err)}});
    return Status::Ok();
  }
  auto it = work_.find(m->partition);
  if (it == work_.end()) {
    return Status::Ok();  // from a partition revoked a moment ago
  }
  PartitionWork& w = *it->second;

  // Offsets must be contiguous: a jump means messages were dropped. A
  // partition read for the first time starts at its first message, which
  // must be offset zero unless told otherwise.
  if (!w.started) {
    w.started = true;
    if (w.to < 0) {
      if (m->offset > 0 && !o_.allow_late_start) {
        return Status::DataLoss(fmt::format(
            "partition {} of {} is read for the first time but begins at "
            "offset {}: earlier messages are gone and were never counted. "
            "If they expired before Pulse was deployed, set "
            "aggregator.allow_late_start=true; otherwise start the "
            "aggregator before the ingest runs ahead",
            m->partition, o_.topics.activity, m->offset));
      }
      w.from = w.to = m->offset;
    }
  }
  if (m->offset < w.to) {
    return Status::Ok();
  }
  // TODO(#3): transactional producers leave control records that skip
  // offsets; on such a topic (Debezium with exactly-once support) this
  // reports data loss that is not.
  if (m->offset > w.to) {
    return Status::DataLoss(fmt::format(
        "partition {} of {}: expected offset {} but the broker returned {}; "
        "{} messages were dropped before being counted (embedded broker "
        "retention, or Kafka retention shorter than the lag). Slow the "
        "producer or add partitions, then run `pulse reconcile`",
        m->partition, o_.topics.activity, w.to, m->offset, m->offset - w.to));
  }
  w.to = m->offset + 1;

  // Parse; unusable messages go to the dead-letter topic unchanged.
  ParsedEvent e;
  ParseResult r = parser_.Parse(
      {static_cast<const char*>(m->payload), m->payload ? m->len : 0}, e);
  switch (r.outcome) {
    case ParseOutcome::kInvalid:
      ++w.invalid;
      return DeadLetter(m, r);
    case ParseOutcome::kIgnored:
      ++w.ignored;
      m_.ignored.Increment();
      return Status::Ok();
    case ParseOutcome::kEvent:
      Apply(w, e);
      return Status::Ok();
  }
  return Status::Ok();
}

void Aggregator::Apply(PartitionWork& w, const ParsedEvent& e) {
  // A replay repeats a position at or below the highest applied.
  if (e.position) {
    if (*e.position <= w.position) {
      ++w.duplicates;
      m_.duplicate.Increment();
      return;
    }
    w.position = *e.position;
  } else {
    m_.unpositioned.Increment();
  }

  // Older than a granularity's retention: count it only in coarser ones.
  std::array<bool, 3> skip{};
  prometheus::Counter* late[] = {&m_.late_minute, &m_.late_hour, &m_.late_day};
  bool any_late = false;
  for (size_t g = 0; g < 3; ++g) {
    int64_t keep = o_.retention_ms[g];
    skip[g] = keep > 0 && e.time < now_ms_ - keep;
    if (skip[g]) {
      late[g]->Increment();
      any_late = true;
    }
  }
  w.late += any_late ? 1 : 0;

  w.batch.Add({.time = e.time,
               .action = e.action,
               .collection = e.collection,
               .user = e.user ? &*e.user : nullptr,
               .ip = e.ip ? &*e.ip : nullptr},
              skip);
  w.newest_event_time = std::max(w.newest_event_time, e.time);
  m_.applied.Increment();

  if (e.ip) {
    w.alerts.set_now(now_ms_);
    w.alerts.Observe(*e.ip, e.time, e.collection, e.action, w.fired);
    proxy_.Observe(*e.ip);
  }
}

Status Aggregator::DeadLetter(const rd_kafka_message_t* m,
                              const ParseResult& r) {
  m_.invalid.Increment();
  m_.Invalid(std::string(r.reason)).Increment();
  log_.Debug("dead_letter", {{"partition", m->partition},
                             {"offset", m->offset},
                             {"reason", r.reason},
                             {"detail", r.detail}});

  // The message goes as it came, with why and where from in headers.
  rd_kafka_headers_t* h = rd_kafka_headers_new(5);
  std::string partition = std::to_string(m->partition);
  std::string offset = std::to_string(m->offset);
  rd_kafka_header_add(h, "pulse.reason", -1, r.reason.data(),
                      static_cast<ssize_t>(r.reason.size()));
  rd_kafka_header_add(h, "pulse.detail", -1, r.detail.data(),
                      static_cast<ssize_t>(r.detail.size()));
  rd_kafka_header_add(h, "pulse.source.topic", -1, o_.topics.activity.data(),
                      static_cast<ssize_t>(o_.topics.activity.size()));
  rd_kafka_header_add(h, "pulse.source.partition", -1, partition.data(),
                      static_cast<ssize_t>(partition.size()));
  rd_kafka_header_add(h, "pulse.source.offset", -1, offset.data(),
                      static_cast<ssize_t>(offset.size()));
  return Produce(
      o_.topics.dlq,
      {static_cast<const char*>(m->key), m->key ? m->key_len : 0},
      {static_cast<const char*>(m->payload), m->payload ? m->len : 0}, h);
}

}  // namespace pulse::aggregator
