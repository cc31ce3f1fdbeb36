#include "ingest/publisher.h"

#include <fmt/format.h>

#include "common/log.h"
#include "common/metrics.h"

namespace pulse::ingest {

namespace {

const Logger& Log() {
  static const Logger log("ingest");
  return log;
}

}  // namespace

Result<std::unique_ptr<Publisher>> Publisher::Create(const PublisherOptions& o,
                                                     AckTracker* tracker) {
  std::map<std::string, std::string> base = {
      {"bootstrap.servers", o.brokers},
      {"client.id", "pulse-ingest"},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"compression.type", o.compression},
      {"partitioner", "murmur2_random"},
      {"linger.ms", "20"},
      {"batch.size", "1000000"},
      {"message.timeout.ms", "0"},  // retry forever: never drop a row
      {"queue.buffering.max.messages", std::to_string(o.max_in_flight)},
      {"queue.buffering.max.kbytes", "1048576"},
  };
  PULSE_ASSIGN_OR_RETURN(KafkaConf conf, MakeKafkaConf(base, o.properties));

  std::unique_ptr<Publisher> p(new Publisher());
  p->tracker_ = tracker;
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &Publisher::OnDelivery);
  rd_kafka_conf_set_error_cb(conf.get(), &Publisher::OnError);
  rd_kafka_conf_set_opaque(conf.get(), p.get());

  char err[512];
  p->rk_.reset(
      rd_kafka_new(RD_KAFKA_PRODUCER, conf.release(), err, sizeof err));
  if (!p->rk_) {
    return Status::InvalidArgument(std::string("kafka producer: ") + err);
  }
  p->topic_ = rd_kafka_topic_new(p->rk_.get(), o.topic.c_str(), nullptr);

  // Fail fast with a clear message when the brokers or topic are missing.
  auto count = PartitionCount(p->rk_.get(), o.topic, 15000);
  if (!count.ok()) {
    return Status(count.status().code(),
                  fmt::format("kafka.brokers={}: {}", o.brokers,
                              count.status().message()));
  }
  p->partitions_ = *count;
  PULSE_ASSIGN_OR_RETURN(p->cluster_id_,
                         BrokerIncarnation(p->rk_.get(), 15000));
  return p;
}

Publisher::~Publisher() {
  if (topic_ != nullptr) {
    rd_kafka_topic_destroy(topic_);
  }
}

void Publisher::OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* m,
                           void* opaque) {
  auto* self = static_cast<Publisher*>(opaque);
  auto unit = reinterpret_cast<AckTracker::UnitId>(m->_private);
  if (m->err) {
    // With unlimited retries only a fatal producer state lands here.
    if (self->fatal_.ok()) {
      self->fatal_ = KafkaStatus(m->err, "delivery to the activity topic");
    }
    return;
  }
  self->tracker_->Delivered(unit, m->partition, m->offset);
}

void Publisher::OnError(rd_kafka_t* rk, int err, const char* reason,
                        void* opaque) {
  auto* self = static_cast<Publisher*>(opaque);
  auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    char buf[512];
    rd_kafka_fatal_error(rk, buf, sizeof buf);
    if (self->fatal_.ok()) {
      self->fatal_ = Status::Internal(std::string("kafka producer: ") + buf);
    }
    return;
  }
  // Transient (brokers down, ...): librdkafka retries; say so once per event.
  Log().Warn("kafka_error",
             {{"error", rd_kafka_err2name(code)}, {"reason", reason}});
}

Status Publisher::Produce(std::string_view key, std::string_view value,
                          AckTracker::UnitId unit,
                          const std::function<Status()>& while_blocked) {
  while (true) {
    int rc =
        rd_kafka_produce(topic_, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                         const_cast<char*>(value.data()), value.size(),
                         key.data(), key.size(), reinterpret_cast<void*>(unit));
    if (rc == 0) {
      tracker_->AddMessage(unit);
      return Status::Ok();
    }
    rd_kafka_resp_err_t err = rd_kafka_last_error();
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      return KafkaStatus(err, "produce to the activity topic");
    }

    // Full: serve deliveries and keep the source connection alive.
    Poll(100);
    PULSE_RETURN_IF_ERROR(fatal_);
    if (while_blocked) {
      PULSE_RETURN_IF_ERROR(while_blocked());
    }
  }
}

void Publisher::Poll(int timeout_ms) { rd_kafka_poll(rk_.get(), timeout_ms); }

Status Publisher::Flush(int timeout_ms) {
  rd_kafka_resp_err_t err = rd_kafka_flush(rk_.get(), timeout_ms);
  PULSE_RETURN_IF_ERROR(fatal_);
  return KafkaStatus(err, "flush of the activity topic");
}

}  // namespace pulse::ingest
