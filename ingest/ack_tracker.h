// AckTracker: which source positions are durable downstream.
//
// Work enters in units, in source order: a transaction (tag = its commit's
// end LSN) or a snapshot chunk (tag = the last id copied). Each message
// produced belongs to one unit. A unit is durable once every one of its
// messages is delivered and, when a durability horizon is given, each sits
// below the aggregator's committed offset of its partition. DurableTag()
// returns the tag of the longest durable prefix: the position that may be
// acknowledged to PostgreSQL, or written to the snapshot checkpoint.
//
// Single-threaded: librdkafka calls delivery reports from rd_kafka_poll() on
// the ingest thread.

#ifndef PULSE_INGEST_ACK_TRACKER_H_
#define PULSE_INGEST_ACK_TRACKER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <optional>

namespace pulse::ingest {

class AckTracker {
 public:
  using UnitId = uint64_t;

  // Starts a unit; messages are added with AddMessage until Close.
  UnitId Open();
  void AddMessage(UnitId unit);
  // No more messages for `unit`; `tag` is what its durability unlocks.
  void Close(UnitId unit, uint64_t tag);
  // A message of `unit` was stored at partition/offset.
  void Delivered(UnitId unit, int32_t partition, int64_t offset);
  // Closes every open unit without a tag: its session ended midway (the
  // source went away) and the next session sends its rows again in a
  // unit of its own. Abandoned units still wait for their messages, but
  // never make a position durable.
  void AbandonOpen();

  // Next offset per partition below which the aggregator's results are
  // committed; without one, delivery alone makes a unit durable.
  using Horizon = std::map<int32_t, int64_t>;

  // Pops durable units from the front; returns the newest popped tag.
  std::optional<uint64_t> DurableTag(const Horizon* horizon = nullptr);

  // Messages produced but not yet delivered.
  uint64_t in_flight() const { return in_flight_; }
  // Units open or not yet durable.
  size_t pending_units() const { return units_.size(); }
  // Highest offset delivered per partition, for backpressure.
  const std::map<int32_t, int64_t>& delivered_offsets() const {
    return delivered_;
  }

 private:
  struct Unit {
    UnitId id = 0;
    bool closed = false;
    bool abandoned = false;
    uint64_t tag = 0;
    uint64_t pending = 0;
    std::map<int32_t, int64_t> max_offset;  // per partition
  };
  Unit* Find(UnitId id);

  std::deque<Unit> units_;
  UnitId next_id_ = 1;
  uint64_t in_flight_ = 0;
  std::map<int32_t, int64_t> delivered_;
};

}  // namespace pulse::ingest

#endif  // PULSE_INGEST_ACK_TRACKER_H_
