// RollupBatch: what one partition's events added since the last flush, as
// deltas the sink adds to its tables.
//
// For each UTC minute, hour and day bucket of an event it adds one to:
//   activity    (bucket, collection, action)        count
//   collections (bucket, collection)                count, users sketch
//   users       (bucket, user)                      count, collections sketch
//   ips         (bucket, ip)                        count, logins, collections
// Sketches use the extension's format with kUserSketchParams; a batch's
// sketch holds only this batch's values and the sink unions it in.
//
// Strings are interned per batch so the hot path hashes small integer keys.
// AppendJsonMembers() writes the deltas of a rollup message
// (schemas/rollup.schema.json, version kRollupMessageVersion), where one
// entry may stand for several granularities ("mhd").
//
// Not thread-safe; one batch per partition, owned by the aggregator thread.

#ifndef PULSE_AGGREGATOR_ROLLUP_BATCH_H_
#define PULSE_AGGREGATOR_ROLLUP_BATCH_H_

#include <array>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "aggregator/flat_map.h"
#include "aggregator/string_pool.h"
#include "common/hll.h"
#include "common/time_util.h"

namespace pulse::aggregator {

// Rollup messages written: 2 allows an entry to name several
// granularities; a sink that reads only version 1 refuses them by name.
constexpr int kRollupMessageVersion = 2;

enum class Granularity : uint8_t { kMinute = 0, kHour = 1, kDay = 2 };
constexpr std::array<Granularity, 3> kGranularities = {
    Granularity::kMinute, Granularity::kHour, Granularity::kDay};
int64_t GranularityMs(Granularity g);
std::string_view GranularityCode(Granularity g);  // "m", "h", "d"
// The code of a set of granularities (bit g: Granularity g), finest first:
// "mhd" for all three.
std::string_view GranularitiesCode(uint8_t grains);

struct RollupKey {
  Granularity g;
  uint8_t into = 0;  // staged entries: the granularities they count in
  int64_t bucket;    // start, ms since the epoch
  uint32_t a;        // interned: collection, user or ip
  uint32_t b;        // interned action, or 0
  friend bool operator==(const RollupKey&, const RollupKey&) = default;
};

struct RollupKeyHash {
  size_t operator()(const RollupKey& k) const {
    uint64_t h = static_cast<uint64_t>(k.bucket) * 0x9E3779B97F4A7C15ULL;
    h ^= (static_cast<uint64_t>(k.a) << 32 | k.b) + 0x632BE59BD9B4E019ULL +
         (h << 6) + (h >> 2);
    h ^= (static_cast<uint64_t>(k.g) | static_cast<uint64_t>(k.into) << 8) *
         0xC2B2AE3D27D4EB4FULL;
    return static_cast<size_t>(h ^ (h >> 29));
  }
};

// One event, as the batch needs it. Absent user or ip: not counted there.
struct BatchEvent {
  EventTimeMs time;
  std::string_view action;
  std::string_view collection;
  const std::string_view* user;  // null when absent
  const std::string_view* ip;    // null when absent
};

class RollupBatch {
 public:
  RollupBatch();

  // Adds the event to every granularity not in `skip` (late events skip
  // the granularities whose retention they are older than).
  void Add(const BatchEvent& e, const std::array<bool, 3>& skip);

  bool empty() const { return events_ == 0; }
  int64_t events() const { return events_; }
  // Rough size of AppendJsonMembers()'s output (an upper bound for usual
  // traffic), to split batches before they get big.
  size_t ApproximateBytes() const { return approx_bytes_; }

  // Appends the delta arrays ("activity", "collections", "users", "ips")
  // as members of the JSON object being written into `out`.
  void AppendJsonMembers(std::string& out);

  void Clear();

 private:
  // A sketch's values are collected as hashes (appending is cheap) and
  // turned into the sketch once, at flush.
  struct Counted {
    int64_t count = 0;
    int64_t logins = 0;
    std::vector<uint64_t> hashes;

    // Adds a hash; returns how many distinct hashes that added (it may be
    // negative when a compaction drops duplicates collected before).
    int64_t Note(uint64_t h);

    size_t compacted = 0;  // size after the last compaction

    // Empties it, keeping a small list's buffer.
    void Recycle();
  };

  // Events are staged once per kind: one entry per (finest bucket kept,
  // key, granularities counted in), which keeps the hot path at one lookup
  // and one sketch insert per kind instead of three. A new staged entry
  // finds its per-granularity totals once (their ordinals stay valid as
  // the maps grow). A total that only one staged entry adds to is written
  // as part of that entry ("mhd": a minute, its hour and its day, one
  // delta); a total that several add to (`shared`) is folded at flush and
  // written on its own. A flush within one minute thus writes each key
  // once, not three times.
  struct Staged {
    Counted delta;
    std::array<uint32_t, 3> into{};  // ordinals of its totals
    uint8_t shared = 0;  // granularities (bits) whose total is shared
    void Recycle() {
      delta.Recycle();
      into = {};
      shared = 0;
    }
  };
  struct Total {
    Counted sum;         // shared totals only, at flush
    uint32_t first = 0;  // ordinal of the first staged entry adding to it
    bool shared = false;
    void Recycle() {
      sum.Recycle();
      first = 0;
      shared = false;
    }
  };
  struct Kind {
    FlatMap<RollupKey, Staged, RollupKeyHash> staged;
    FlatMap<RollupKey, Total, RollupKeyHash> totals;
    void Clear() {
      staged.Clear();
      totals.Clear();
    }
  };

  // The staged entry of `key` (its `into` naming the granularities),
  // created with its totals if new; `bytes` is the size of one entry of
  // it, for the estimate.
  Staged& Stage(Kind& kind, const RollupKey& key, EventTimeMs time,
                size_t bytes);
  // Adds `hash` to the entry's sketch values.
  void Note(Staged& s, uint64_t hash);
  // Adds staged deltas to the shared totals they feed.
  static void Fold(Kind& kind);

  StringPool pool_;
  Kind activity_;     // (bucket, collection, action)
  Kind collections_;  // (bucket, collection): users
  Kind users_;        // (bucket, user): collections
  Kind ips_;          // (bucket, ip): collections, logins
  uint32_t login_id_ = 0;
  int64_t events_ = 0;
  size_t approx_bytes_ = 0;
};

}  // namespace pulse::aggregator

#endif  // PULSE_AGGREGATOR_ROLLUP_BATCH_H_
