// `pulse aggregate`: activity events into rollup deltas and alerts, exact
// across crashes, replays and rebalances.
//
// A member of a Kafka consumer group on the activity topic. For each
// partition it owns it keeps an open batch: the deltas of the events read
// since the last flush, and the alert windows of the partition's IPs.
// Every flush interval it publishes, per partition, one rollup message
// covering input offsets [from, to), with the deltas, the alerts fired and
// the alert windows that changed (schemas/rollup.schema.json). The sink
// applies a message only if `from` is exactly where the partition's
// results stand, atomically with moving them to `to`, so each event counts
// once however often messages are retried or processes die.
//
// Replays from the ingest side (the same row again after an ingest
// restart) are skipped: within a partition, an event whose source position
// is not above the highest applied is a replay.
//
// Lifecycle: RunAggregator() until StopSignal. One thread does the work;
// librdkafka's threads call back only from our polls. On assignment a
// partition resumes from the sink's record (after the sink has applied
// everything already published); on revocation its open batch is flushed
// first.

#ifndef PULSE_AGGREGATOR_AGGREGATOR_H_
#define PULSE_AGGREGATOR_AGGREGATOR_H_

#include <array>
#include <chrono>
#include <map>
#include <string>

#include "aggregator/alerts.h"
#include "common/config.h"
#include "common/kafka.h"
#include "common/status.h"

namespace pulse::aggregator {

struct AggregatorOptions {
  std::string brokers;
  Topics topics;
  std::string group = "pulse-aggregator";
  std::map<std::string, std::string> properties;  // kafka.properties
  std::string target_url;  // the analytics database (sink's records)
  std::string state_dir = ".";
  std::chrono::milliseconds flush_interval{500};
  size_t max_batch_bytes = 900'000;
  size_t max_message_bytes = 1'000'000;
  // Per granularity (minute, hour, day), in ms; 0 keeps everything.
  std::array<int64_t, 3> retention_ms = {7 * 86'400'000LL, 90 * 86'400'000LL,
                                         0};
  AlertRules rules;
  int64_t proxy_share_percent = 50;
  // Rollup messages allowed in a rollups partition before the sink applies
  // them; 0 is unbounded (the embedded broker needs a bound).
  int64_t max_unapplied = 0;
  // A partition read for the first time may begin after offset zero.
  bool allow_late_start = false;
  // Take every partition at start instead of joining the consumer group:
  // for `pulse run` on its embedded broker, where this is the only
  // member (a group's first join waits 3 s for others).
  bool assign_all = false;
  std::chrono::milliseconds progress_interval{5000};
};

Result<AggregatorOptions> AggregatorOptionsFromConfig(const Config& config,
                                                      bool embedded);

Status RunAggregator(const AggregatorOptions& options);

}  // namespace pulse::aggregator

#endif  // PULSE_AGGREGATOR_AGGREGATOR_H_
