#include "common/kafka.h"

#include <fmt/format.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <random>

#include "common/log.h"

namespace pulse {

namespace {

constexpr std::string_view kIncarnationPrefix = "__pulse_incarnation_";

const Logger& KafkaLog() {
  static const Logger log("kafka");
  return log;
}

void OnLibraryLog(const rd_kafka_t* rk, int level, const char* fac,
                  const char* buf) {
  (void)rk;
  // syslog levels: 0-3 error, 4 warning, 5-6 info, 7 debug.
  LogLevel l = level <= 3   ? LogLevel::kError
               : level == 4 ? LogLevel::kWarn
               : level <= 6 ? LogLevel::kInfo
                            : LogLevel::kDebug;
  KafkaLog().Log(l, "librdkafka", {{"facility", fac}, {"message", buf}});
}

}  // namespace

void KafkaDeleter::operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
void KafkaDeleter::operator()(rd_kafka_conf_t* c) const {
  rd_kafka_conf_destroy(c);
}
void KafkaDeleter::operator()(rd_kafka_topic_partition_list_t* l) const {
  rd_kafka_topic_partition_list_destroy(l);
}
void KafkaDeleter::operator()(rd_kafka_message_t* m) const {
  rd_kafka_message_destroy(m);
}
void KafkaDeleter::operator()(rd_kafka_headers_t* h) const {
  rd_kafka_headers_destroy(h);
}

Topics Topics::FromPrefix(std::string_view prefix) {
  std::string p(prefix);
  return {p + ".activity", p + ".activity.rollups", p + ".activity.alerts",
          p + ".activity.dlq"};
}

std::vector<std::string> Topics::All() const {
  return {activity, rollups, alerts, dlq};
}

Status KafkaStatus(rd_kafka_resp_err_t err, std::string_view context) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::Ok();
  }
  std::string msg = fmt::format("{}: {} ({})", context, rd_kafka_err2str(err),
                                rd_kafka_err2name(err));
  switch (err) {
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
      return Status::Unavailable(std::move(msg));
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
    case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
      return Status::DataLoss(std::move(msg));
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      return Status::NotFound(std::move(msg));
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
      return Status::FailedPrecondition(std::move(msg));
    default:
      return Status::Internal(std::move(msg));
  }
}

Result<KafkaConf> MakeKafkaConf(
    const std::map<std::string, std::string>& base,
    const std::map<std::string, std::string>& user) {
  KafkaConf conf(rd_kafka_conf_new());
  char err[512];
  for (const auto* props : {&base, &user}) {
    for (const auto& [k, v] : *props) {
      if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err,
                            sizeof err) != RD_KAFKA_CONF_OK) {
        return Status::InvalidArgument(
            fmt::format("kafka.properties: {}={} rejected by librdkafka: {}", k,
                        props == &user ? v : "(built-in)", err));
      }
    }
  }
  rd_kafka_conf_set_log_cb(conf.get(), OnLibraryLog);
  return conf;
}

Result<int> PartitionCount(rd_kafka_t* rk, const std::string& topic,
                           int timeout_ms) {
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, t, &md, timeout_ms);
  rd_kafka_topic_destroy(t);
  if (err) {
    return KafkaStatus(err, "metadata of " + topic);
  }
  int count = 0;
  rd_kafka_resp_err_t topic_err = RD_KAFKA_RESP_ERR_NO_ERROR;
  if (md->topic_cnt == 1) {
    count = md->topics[0].partition_cnt;
    topic_err = md->topics[0].err;
  }
  rd_kafka_metadata_destroy(md);
  if (topic_err || count == 0) {
    return Status::NotFound(fmt::format(
        "topic {} does not exist; create it (the embedded broker creates "
        "its topics at start)",
        topic));
  }
  return count;
}

Status ConsumeTopic(
    rd_kafka_t* consumer, const std::string& topic, bool all,
    const std::function<Status(rd_kafka_topic_partition_list_t*)>& assign) {
  if (all) {
    PULSE_ASSIGN_OR_RETURN(int count, PartitionCount(consumer, topic, 15000));
    KafkaPartitionList partitions(rd_kafka_topic_partition_list_new(count));
    for (int32_t p = 0; p < count; ++p) {
      rd_kafka_topic_partition_list_add(partitions.get(), topic.c_str(), p);
    }
    return assign(partitions.get());
  }
  KafkaPartitionList topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), topic.c_str(),
                                    RD_KAFKA_PARTITION_UA);
  return KafkaStatus(rd_kafka_subscribe(consumer, topics.get()), "subscribe");
}

Status QueryWatermarks(rd_kafka_t* rk, const std::string& topic,
                       int32_t partition, int64_t& low, int64_t& high,
                       int timeout_ms) {
  return KafkaStatus(rd_kafka_query_watermark_offsets(
                         rk, topic.c_str(), partition, &low, &high, timeout_ms),
                     fmt::format("watermarks of {}[{}]", topic, partition));
}

Result<std::string> BrokerIncarnation(rd_kafka_t* rk, int timeout_ms) {
  char* id = rd_kafka_clusterid(rk, timeout_ms);
  if (id == nullptr) {
    return Status::Unavailable(
        "no cluster id from the brokers; check kafka.brokers");
  }
  std::string out(id);
  rd_kafka_mem_free(rk, id);

  // The embedded broker's marker topic, if there is one.
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, nullptr, &md, timeout_ms);
  if (err) {
    return KafkaStatus(err, "metadata");
  }
  for (int i = 0; i < md->topic_cnt; ++i) {
    std::string_view name = md->topics[i].topic;
    if (name.substr(0, kIncarnationPrefix.size()) == kIncarnationPrefix) {
      out += ":";
      out += name.substr(kIncarnationPrefix.size());
    }
  }
  rd_kafka_metadata_destroy(md);
  return out;
}

Result<std::unique_ptr<EmbeddedBroker>> EmbeddedBroker::Start(
    const Options& o) {
  auto conf = MakeKafkaConf({{"client.id", "pulse-embedded-broker"}}, {});
  if (!conf.ok()) {
    return conf.status();
  }
  char err[512];
  std::unique_ptr<EmbeddedBroker> b(new EmbeddedBroker());
  b->host_.reset(
      rd_kafka_new(RD_KAFKA_PRODUCER, conf->release(), err, sizeof err));
  if (!b->host_) {
    return Status::Internal(std::string("embedded broker: ") + err);
  }
  b->cluster_ = rd_kafka_mock_cluster_new(b->host_.get(), o.brokers);
  if (b->cluster_ == nullptr) {
    return Status::Internal("embedded broker: cannot create mock cluster");
  }
  b->bootstrap_ = rd_kafka_mock_cluster_bootstraps(b->cluster_);
  b->replication_ = std::min(o.brokers, 3);

  // A marker topic with a random name tells this incarnation apart from
  // earlier ones, whose cluster id may be the same.
  std::random_device rd;
  std::string marker =
      fmt::format("{}{:08x}{:08x}", kIncarnationPrefix, rd(), rd());
  PULSE_RETURN_IF_ERROR(b->CreateTopic(marker, 1));
  for (const std::string& t : o.topics) {
    PULSE_RETURN_IF_ERROR(b->CreateTopic(t, o.partitions));
  }
  return b;
}

EmbeddedBroker::~EmbeddedBroker() {
  if (cluster_ != nullptr) {
    rd_kafka_mock_cluster_destroy(cluster_);
  }
}

Status EmbeddedBroker::CreateTopic(const std::string& topic, int partitions) {
  return KafkaStatus(rd_kafka_mock_topic_create(cluster_, topic.c_str(),
                                                partitions, replication_),
                     "create topic " + topic);
}

}  // namespace pulse
