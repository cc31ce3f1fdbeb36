// Publisher: the ingest's Kafka producer for the activity topic.
//
// Idempotent, acks=all, compressed, keys partitioned with murmur2 (the Java
// client's default, so other tools agree on where an IP's events live). No
// message is ever dropped: delivery retries without a time limit, and when
// `max_in_flight` messages are unacknowledged, Produce() waits (calling
// `while_blocked` so the replication connection keeps sending status) until
// the broker catches up.
//
// Delivery reports reach the AckTracker from Poll(), on the caller's thread.

#ifndef PULSE_INGEST_PUBLISHER_H_
#define PULSE_INGEST_PUBLISHER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/kafka.h"
#include "common/status.h"
#include "ingest/ack_tracker.h"

namespace pulse::ingest {

struct PublisherOptions {
  std::string brokers;
  std::string topic;
  std::string compression = "lz4";
  int64_t max_in_flight = 200000;
  std::map<std::string, std::string> properties;  // kafka.properties
};

class Publisher {
 public:
  static Result<std::unique_ptr<Publisher>> Create(const PublisherOptions& o,
                                                   AckTracker* tracker);
  ~Publisher();

  // Queues one message of `unit`. Blocks while the queue is full, calling
  // `while_blocked` about every 100 ms; its error aborts the wait.
  Status Produce(std::string_view key, std::string_view value,
                 AckTracker::UnitId unit,
                 const std::function<Status()>& while_blocked);

  // Serves delivery reports for up to `timeout_ms`.
  void Poll(int timeout_ms);

  // Where delivery reports go from now on. Switch only with nothing in
  // flight.
  void set_tracker(AckTracker* tracker) { tracker_ = tracker; }

  // A delivery or producer error the ingest cannot survive, if any.
  const Status& fatal() const { return fatal_; }

  // Waits for everything queued to be delivered.
  Status Flush(int timeout_ms);

  // Partitions of the topic and the cluster's id.
  int partitions() const { return partitions_; }
  const std::string& cluster_id() const { return cluster_id_; }

  rd_kafka_t* handle() const { return rk_.get(); }

 private:
  Publisher() = default;
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* m,
                         void* opaque);
  static void OnError(rd_kafka_t* rk, int err, const char* reason,
                      void* opaque);

  KafkaHandle rk_;
  rd_kafka_topic_t* topic_ = nullptr;
  AckTracker* tracker_ = nullptr;
  Status fatal_;
  int partitions_ = 0;
  std::string cluster_id_;
};

}  // namespace pulse::ingest

#endif  // PULSE_INGEST_PUBLISHER_H_
