// Kafka plumbing shared by every component: configuration, error
// translation, topic names, and the embedded broker.
//
// This is the one place librdkafka errors become Status values. Handles are
// RAII wrappers over the C API (librdkafka's C++ API does not cover the mock
// cluster, and one API is easier to reason about).

#ifndef PULSE_COMMON_KAFKA_H_
#define PULSE_COMMON_KAFKA_H_

#include <librdkafka/rdkafka.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

typedef struct rd_kafka_mock_cluster_s rd_kafka_mock_cluster_t;

namespace pulse {

class Config;

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const;
  void operator()(rd_kafka_conf_t* c) const;
  void operator()(rd_kafka_topic_partition_list_t* l) const;
  void operator()(rd_kafka_message_t* m) const;
  void operator()(rd_kafka_headers_t* h) const;
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using KafkaConf = std::unique_ptr<rd_kafka_conf_t, KafkaDeleter>;
using KafkaPartitionList =
    std::unique_ptr<rd_kafka_topic_partition_list_t, KafkaDeleter>;
using KafkaMessage = std::unique_ptr<rd_kafka_message_t, KafkaDeleter>;

// A partition of the activity topic, and an offset in it. Distinct types so
// one is never passed for the other.
struct PartitionId {
  int32_t value = 0;
  friend auto operator<=>(PartitionId, PartitionId) = default;
};
struct KafkaOffset {
  int64_t value = 0;
  friend auto operator<=>(KafkaOffset, KafkaOffset) = default;
};

struct Topics {
  std::string activity;  // <prefix>.activity
  std::string rollups;   // <prefix>.activity.rollups
  std::string alerts;    // <prefix>.activity.alerts
  std::string dlq;       // <prefix>.activity.dlq

  static Topics FromPrefix(std::string_view prefix);
  std::vector<std::string> All() const;
};

Status KafkaStatus(rd_kafka_resp_err_t err, std::string_view context);

// Builds a configuration: `base` first, then kafka.properties from the
// config (user settings win). An unknown property or bad value is an error
// naming it. Routes librdkafka's own logs to the "kafka" logger.
Result<KafkaConf> MakeKafkaConf(const std::map<std::string, std::string>& base,
                                const std::map<std::string, std::string>& user);

// The partition count of `topic`, from cluster metadata.
Result<int> PartitionCount(rd_kafka_t* rk, const std::string& topic,
                           int timeout_ms);

// Starts consuming `topic`. With `all`, every partition at once, handed
// to `assign` (a sole consumer needs no group, whose first join waits
// 3 s for other members); else as a member of the consumer's group, the
// partitions arriving through its rebalance callback.
Status ConsumeTopic(
    rd_kafka_t* consumer, const std::string& topic, bool all,
    const std::function<Status(rd_kafka_topic_partition_list_t*)>& assign);

// Low and high watermarks of a partition, asked of the broker.
Status QueryWatermarks(rd_kafka_t* rk, const std::string& topic,
                       int32_t partition, int64_t& low, int64_t& high,
                       int timeout_ms);

// Which incarnation of the brokers we talk to. Offsets are only comparable
// within one: the embedded broker starts from zero every time it starts.
// It is the cluster id, plus, for the embedded broker (whose id can repeat
// across restarts), the random suffix of a marker topic it creates.
Result<std::string> BrokerIncarnation(rd_kafka_t* rk, int timeout_ms);

// An in-process Kafka-protocol broker (librdkafka's mock cluster). It keeps
// data in memory only, at most ~5 MiB per partition; see FACTS in README.
// With several brokers, topics are replicated on up to three of them, so
// a partition's leader can move and a broker can go down.
class EmbeddedBroker {
 public:
  struct Options {
    int brokers = 1;
    int partitions = 6;
    std::vector<std::string> topics;
  };

  static Result<std::unique_ptr<EmbeddedBroker>> Start(const Options& o);
  ~EmbeddedBroker();

  const std::string& bootstrap() const { return bootstrap_; }
  rd_kafka_mock_cluster_t* cluster() const { return cluster_; }
  Status CreateTopic(const std::string& topic, int partitions);

 private:
  EmbeddedBroker() = default;
  KafkaHandle host_;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstrap_;
  int replication_ = 1;
};

}  // namespace pulse

#endif  // PULSE_COMMON_KAFKA_H_
