// HorizonReader: how far the aggregator's results are durable, per
// partition of the activity topic, read from the sink's table
// pulse.partition_state in the analytics database.
//
// Used when WAL may be acknowledged only past rows whose rollups are
// committed (the embedded broker keeps data in memory only), and for
// backpressure. Offsets of another broker incarnation (cluster id) are
// ignored: they count from zero again.
//
// Single-threaded.

#ifndef PULSE_INGEST_HORIZON_H_
#define PULSE_INGEST_HORIZON_H_

#include <chrono>
#include <string>

#include "common/pg.h"
#include "ingest/ack_tracker.h"

namespace pulse::ingest {

class HorizonReader {
 public:
  HorizonReader(std::string url, std::string topic, std::string cluster_id);

  // The horizon, refreshed from the database at most every `max_age`.
  // When the database cannot be read, the last known horizon stays.
  const AckTracker::Horizon& Get(std::chrono::milliseconds max_age);

 private:
  Status Refresh();

  std::string url_;
  std::string topic_;
  std::string cluster_id_;
  PgConn conn_;
  AckTracker::Horizon horizon_;
  std::chrono::steady_clock::time_point fetched_{};
  std::chrono::steady_clock::time_point warned_{};
};

}  // namespace pulse::ingest

#endif  // PULSE_INGEST_HORIZON_H_
