// The aggregator's insides (see aggregator.h). Internal to the library.

#ifndef PULSE_AGGREGATOR_AGGREGATOR_INTERNAL_H_
#define PULSE_AGGREGATOR_AGGREGATOR_INTERNAL_H_

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "aggregator/aggregator.h"
#include "aggregator/aggregator_metrics.h"
#include "aggregator/alerts.h"
#include "aggregator/event_parser.h"
#include "aggregator/proxy_detector.h"
#include "aggregator/rollup_batch.h"
#include "aggregator/sink_state.h"
#include "aggregator/state_store.h"
#include "common/kafka.h"
#include "common/log.h"

namespace pulse::aggregator {

// One owned partition: where its results stand and what is open.
struct PartitionWork {
  PartitionWork(int32_t p, const AlertRules* rules)
      : partition(p), alerts(rules) {}

  int32_t partition;
  PartitionRecord record;  // as of `from`: what the sink holds
  int64_t from = 0;        // first offset of the open batch
  int64_t to = 0;          // next offset expected
  bool started = false;    // a message was read since assignment

  // Moves with each applied event; becomes the record at flush.
  SourcePos position;
  EventTimeMs newest_event_time = 0;

  RollupBatch batch;
  AlertEngine alerts;
  std::vector<Alert> fired;
  int64_t duplicates = 0;
  int64_t invalid = 0;
  int64_t ignored = 0;
  int64_t late = 0;

  // Rough size of the rollup message a flush would publish now.
  size_t ApproximateBytes() const { return batch.ApproximateBytes(); }
};

class Aggregator {
 public:
  explicit Aggregator(const AggregatorOptions& o);
  ~Aggregator();

  Status Init();
  Status Run();

  // librdkafka's rebalance callback lands here.
  void OnRebalance(rd_kafka_resp_err_t err,
                   rd_kafka_topic_partition_list_t* partitions);

 private:
  // Assignment: resume each partition from the sink's record.
  Status Assign(rd_kafka_topic_partition_list_t* partitions);
  // Restore() into a fresh PartitionWork, again with backoff while
  // PostgreSQL is away (a rebalance can come in the middle of a restart).
  Status RestoreWithRetry(int32_t partition,
                          std::unique_ptr<PartitionWork>& out);
  Status Restore(PartitionWork& work);
  // Fences the partitions' previous owners (see rebalance.cc).
  Status Claim(const std::vector<int32_t>& partitions);
  void Revoke(rd_kafka_topic_partition_list_t* partitions);

  // One message of the activity topic.
  Status Handle(const rd_kafka_message_t* m);
  void Apply(PartitionWork& w, const ParsedEvent& e);
  Status DeadLetter(const rd_kafka_message_t* m, const ParseResult& r);

  // Publishes every open batch (or those of `only`), then records them.
  Status Flush(const std::vector<int32_t>* only = nullptr);
  std::string BuildMessage(PartitionWork& w);
  // Flushes when due (or when a batch is big), unless the sink is behind.
  Status MaybeFlush(bool big);
  Status WaitForSink();
  // Queues a message; `rollup` marks rollup messages for delivery
  // bookkeeping. Takes ownership of `headers`.
  Status Produce(const std::string& topic, std::string_view key,
                 std::string_view value, rd_kafka_headers_t* headers,
                 bool rollup = false);
  // Waits until everything queued is delivered; any failure is fatal.
  Status AwaitDelivery();
  void UpdateLag();
  void LogProgress();

  const AggregatorOptions& o_;
  Logger log_{"aggregator"};
  AggregatorMetrics m_;
  EventParser parser_;
  ProxyDetector proxy_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<SinkState> sink_;
  KafkaHandle consumer_;
  KafkaHandle producer_;
  std::string cluster_id_;
  std::map<int32_t, std::unique_ptr<PartitionWork>> work_;
  Status fatal_;            // set in callbacks, returned by Run
  EventTimeMs now_ms_ = 0;  // wall clock, read once per poll round

  // Delivery bookkeeping for the flush in progress.
  int64_t delivery_failures_ = 0;
  std::string delivery_error_;
  std::map<int32_t, int64_t> rollups_produced_;  // next offset per partition

  using Clock = std::chrono::steady_clock;
  Clock::time_point last_flush_{};
  Clock::time_point last_progress_{};
  Clock::time_point last_lag_{};
  int64_t applied_at_progress_ = 0;
};

}  // namespace pulse::aggregator

#endif  // PULSE_AGGREGATOR_AGGREGATOR_INTERNAL_H_
