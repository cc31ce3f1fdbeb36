// `pulse sink`: the rollups topic into the pulse tables of the analytics
// database.
//
// At start it creates or upgrades the schema (schema.h). Then it consumes
// the rollups topic as a member of the sink group, in batches: each batch
// is applied in one transaction together with the sink's offsets
// (writer.h), so the tables and the position always agree, and a restart
// resumes exactly after what was applied. Buckets past their retention
// are deleted periodically.
//
// One thread does the work; librdkafka's threads call back only from our
// polls. Lifecycle: RunSink() until StopSignal or a failure it cannot
// retry; a lost database connection is retried with backoff.

#ifndef PULSE_SINK_SINK_H_
#define PULSE_SINK_SINK_H_

#include <chrono>
#include <map>
#include <string>

#include "common/config.h"
#include "common/kafka.h"
#include "common/status.h"
#include "sink/schema.h"

namespace pulse::sink {

struct SinkOptions {
  std::string brokers;
  Topics topics;
  std::string group = "pulse-sink";
  std::map<std::string, std::string> properties;  // kafka.properties
  std::string target_url;
  RetentionSettings retention;
  int batch_messages = 200;
  // Take every partition at start instead of joining the consumer group
  // (`pulse run` on its embedded broker; see AggregatorOptions).
  bool assign_all = false;
  std::chrono::milliseconds retention_interval{600000};
  std::chrono::milliseconds progress_interval{5000};
};

Result<SinkOptions> SinkOptionsFromConfig(const Config& config);

Status RunSink(const SinkOptions& options);

}  // namespace pulse::sink

#endif  // PULSE_SINK_SINK_H_
