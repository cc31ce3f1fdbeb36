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
#include <tuple>
#include <vector>

#include "aggregator/alerts.h"
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
  // Alert windows as the sink's tables hold them: per IP and minute the
  // counts (pulse.ip_minute), and the cooldowns of recent alerts
  // (pulse.alerts), for the `window` minutes up to `newest` and none after
  // it. An IP's events all land in one partition, so its ip_minute rows
  // are its windows (other partitions' IPs come along, and stay idle).
  struct Windows {
    std::vector<std::pair<std::string, MinuteCounts>> minutes;
    // (ip, suspicious_ip until, login_burst until), in minutes
    std::vector<std::tuple<std::string, int64_t, int64_t>> cooldowns;
  };
  Result<Windows> LoadWindows(EventTimeMs newest, const AlertRules& rules);

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
