// SinkState: what the aggregator reads from the analytics database, where
// the sink records how far each partition's results are applied.
//
// A partition that moves to this process resumes from the sink's record,
// never from a guess: first WaitForDrain() makes sure every rollup message
// already in the topic (from whoever owned the partition before) is
// applied, then Load() gives the exact offset, source position and alert
// windows to carry on from.
//
// Owned by the aggregator thread.

#ifndef PULSE_AGGREGATOR_SINK_STATE_H_
#define PULSE_AGGREGATOR_SINK_STATE_H_

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "aggregator/state_store.h"
#include "common/pg.h"
#include "common/status.h"

namespace pulse::aggregator {

class SinkState {
 public:
  SinkState(std::string url, std::string rollups_topic);

  // Blocks until the sink has consumed every message now in the rollups
  // topic (asked of the brokers through `rk`). Logs while waiting; returns
  // kCancelled on stop.
  Status WaitForDrain(rd_kafka_t* rk);

  // The sink's record of a partition, or nullopt if it has none.
  Result<std::optional<PartitionRecord>> Load(const std::string& topic,
                                              int32_t partition);
  // Calls `fn(ip, state)` for each alert window the sink holds.
  Status ForEachWindow(
      const std::string& topic, int32_t partition,
      const std::function<Status(std::string_view, std::string_view)>& fn);

  // The most rollup messages produced but not yet applied in any rollups
  // partition, given the next offset we produced to each.
  Result<int64_t> MaxUnapplied(const std::map<int32_t, int64_t>& produced,
                               const std::string& cluster);

 private:
  Status Connect();
  // The sink's next offset per rollups partition for `cluster`.
  Result<std::map<int32_t, int64_t>> SinkOffsets(const std::string& cluster);

  std::string url_;
  std::string rollups_topic_;
  PgConn conn_;
};

}  // namespace pulse::aggregator

#endif  // PULSE_AGGREGATOR_SINK_STATE_H_
