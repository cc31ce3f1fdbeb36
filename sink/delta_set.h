// DeltaSet: the deltas of several rollup messages merged per row, so one
// transaction writes each rollup row once.
//
// Counts add; sketches union (with common/hll.h, exactly as the extension's
// hll_union would). Rows in buckets older than their granularity's
// retention are dropped on the way in: the sink would delete them anyway.
//
// Not thread-safe; built and written by the sink thread.

#ifndef PULSE_SINK_DELTA_SET_H_
#define PULSE_SINK_DELTA_SET_H_

#include <array>
#include <map>
#include <string>
#include <tuple>

#include "common/hll.h"
#include "sink/rollup_message.h"

namespace pulse::sink {

// The three sketch-carrying kinds of rollup table.
enum class Kind : uint8_t { kCollection = 0, kUser = 1, kIp = 2 };
constexpr std::array<Kind, 3> kKinds = {Kind::kCollection, Kind::kUser,
                                        Kind::kIp};
std::string_view KindCode(Kind k);  // "c", "u", "i"

struct SketchRow {
  int64_t count = 0;
  int64_t logins = 0;
  Hll sketch;
};

class DeltaSet {
 public:
  // Oldest bucket kept per granularity (ms; INT64_MIN keeps all).
  explicit DeltaSet(const std::array<EventTimeMs, 3>& oldest_kept);

  Status Add(const RollupMessage& m);

  using ActivityKey = std::tuple<Grain, EventTimeMs, std::string, std::string>;
  using SketchKey = std::tuple<Kind, Grain, EventTimeMs, std::string>;

  const std::map<ActivityKey, int64_t>& activity() const { return activity_; }
  std::map<SketchKey, SketchRow>& sketches() { return sketches_; }
  bool empty() const { return activity_.empty() && sketches_.empty(); }
  size_t rows() const { return activity_.size() + sketches_.size(); }

 private:
  bool Kept(Grain g, EventTimeMs bucket) const {
    return bucket >= oldest_kept_[static_cast<size_t>(g)];
  }
  Status AddSketches(Kind kind, const std::vector<SketchDelta>& deltas);

  std::array<EventTimeMs, 3> oldest_kept_;
  std::map<ActivityKey, int64_t> activity_;
  std::map<SketchKey, SketchRow> sketches_;
};

}  // namespace pulse::sink

#endif  // PULSE_SINK_DELTA_SET_H_
