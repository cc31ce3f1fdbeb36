// HistoryRows: the exact sequence of rows a history run writes, in id
// order, so a test can recompute what WriteHistory() put in the table.
//
// HistoryTimeline spreads the timestamps over the window [start, end):
// busier in working hours than at night and on weekdays than at weekends,
// ascending in id order except for a small jitter (Directus stamps a row
// when the request starts and takes its id when it inserts, so the two
// orders differ slightly). An attacker's burst, if asked for, is merged in
// at its own times.
//
// Both classes are used by one thread at a time.

#ifndef PULSE_GENERATE_HISTORY_ROWS_H_
#define PULSE_GENERATE_HISTORY_ROWS_H_

#include <cstdint>
#include <vector>

#include "common/time_util.h"
#include "generate/activity_generator.h"

namespace pulse::generate {

// Timestamps move by at most this much against id order.
constexpr int64_t kMaxJitterMs = 1000;

struct TimelineOptions {
  uint64_t seed = 1;
  int64_t rows = 0;  // all rows, the attacker's included
  EventTimeMs start = 0;
  EventTimeMs end = 0;  // exclusive
  // A burst of attacker_rows spread over
  // [attacker_start, attacker_start + attacker_window_ms), clipped to the
  // window. At most `rows`.
  int64_t attacker_rows = 0;
  EventTimeMs attacker_start = 0;
  int64_t attacker_window_ms = 10 * kMsPerMinute;
};

class HistoryTimeline {
 public:
  // Needs start < end and rows >= 0.
  explicit HistoryTimeline(const TimelineOptions& o);

  // The next row's time and whether it is the attacker's; false once all
  // rows are out.
  bool Next(EventTimeMs& t, bool& attacker);

 private:
  EventTimeMs NextSiteTime();
  EventTimeMs NextAttackTime();

  TimelineOptions o_;
  Rng site_rng_;
  Rng attack_rng_;

  // The site's intensity as cumulative weight over hour buckets.
  std::vector<EventTimeMs> bucket_start_;  // one past the last is o_.end
  std::vector<double> cumulative_;         // weight before each bucket
  size_t bucket_ = 0;

  int64_t site_rows_ = 0;
  int64_t site_done_ = 0;
  int64_t attack_done_ = 0;
  EventTimeMs attack_start_ = 0;
  int64_t attack_span_ms_ = 0;

  // The next time of each stream, drawn ahead so the two can be merged.
  bool site_pending_ = false;
  bool attack_pending_ = false;
  EventTimeMs site_next_ = 0;
  EventTimeMs attack_next_ = 0;
};

class HistoryRows {
 public:
  // `g` must pass ValidateGeneratorOptions, with an attacker_ip when
  // `t` asks for attacker rows; `t` as HistoryTimeline needs.
  HistoryRows(const GeneratorOptions& g, const TimelineOptions& t);

  // Fills the next row, timestamp included; false after the last.
  bool Next(ActivityRow& row);

  const ActivityGenerator& generator() const { return generator_; }

 private:
  ActivityGenerator generator_;
  HistoryTimeline timeline_;
};

}  // namespace pulse::generate

#endif  // PULSE_GENERATE_HISTORY_ROWS_H_
