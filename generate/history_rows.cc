#include "generate/history_rows.h"

#include <algorithm>

namespace pulse::generate {

namespace {

constexpr uint64_t kTimeStream = 0x74696d65ULL;
constexpr uint64_t kBurstStream = 0x6275727374ULL;

// Share of rows whose timestamp is jittered against id order.
constexpr double kJitterShare = 0.25;

// Relative activity per UTC hour of day: an editorial team's working day.
constexpr double kHourOfDay[24] = {
    0.20, 0.15, 0.12, 0.10, 0.10, 0.12, 0.20, 0.35, 0.60, 0.85, 1.00, 1.00,
    0.90, 0.95, 1.00, 1.00, 0.95, 0.85, 0.65, 0.50, 0.40, 0.35, 0.30, 0.25,
};
constexpr double kWeekendFactor = 0.4;

double Intensity(EventTimeMs hour_start) {
  int64_t days = FloorTo(hour_start, kMsPerDay) / kMsPerDay;
  int64_t hour = (hour_start - days * kMsPerDay) / kMsPerHour;

  // 1970-01-01 was a Thursday: weekday 4 with Sunday as 0.
  int64_t weekday = ((days + 4) % 7 + 7) % 7;
  bool weekend = weekday == 0 || weekday == 6;
  return kHourOfDay[hour] * (weekend ? kWeekendFactor : 1.0);
}

}  // namespace

HistoryTimeline::HistoryTimeline(const TimelineOptions& o)
    : o_(o),
      site_rng_(Mix64(o.seed, kTimeStream)),
      attack_rng_(Mix64(o.seed, kBurstStream)) {
  // The attacker's rows come out of the total; an empty window has none.
  if (o.end <= o.start) {
    o_.rows = 0;
    o_.end = o.start + 1;
  }
  o_.attacker_rows = std::clamp<int64_t>(o.attacker_rows, 0, o_.rows);
  site_rows_ = o_.rows - o_.attacker_rows;

  // One bucket per UTC hour, clipped to the window, weighted by intensity
  // times covered length.
  double total = 0;
  for (EventTimeMs h = FloorTo(o_.start, kMsPerHour); h < o_.end;
       h += kMsPerHour) {
    EventTimeMs from = std::max(h, o_.start);
    EventTimeMs to = std::min(h + kMsPerHour, o_.end);
    bucket_start_.push_back(from);
    cumulative_.push_back(total);
    total += Intensity(h) * static_cast<double>(to - from);
  }
  bucket_start_.push_back(o_.end);
  cumulative_.push_back(total);

  // The burst stays inside the window however it was asked for.
  attack_start_ = std::clamp(o_.attacker_start, o_.start, o_.end - 1);
  attack_span_ms_ =
      std::clamp<int64_t>(o_.attacker_window_ms, 1, o_.end - attack_start_);
}

bool HistoryTimeline::Next(EventTimeMs& t, bool& attacker) {
  // Keep one drawn time per stream and emit the earlier.
  if (!site_pending_ && site_done_ < site_rows_) {
    site_next_ = NextSiteTime();
    site_pending_ = true;
  }
  if (!attack_pending_ && attack_done_ < o_.attacker_rows) {
    attack_next_ = NextAttackTime();
    attack_pending_ = true;
  }
  if (!site_pending_ && !attack_pending_) {
    return false;
  }
  attacker = attack_pending_ && (!site_pending_ || attack_next_ < site_next_);
  if (attacker) {
    t = attack_next_;
    attack_pending_ = false;
  } else {
    t = site_next_;
    site_pending_ = false;
  }
  return true;
}

EventTimeMs HistoryTimeline::NextSiteTime() {
  // Stratified quantiles: row j lands in the j-th slice of the total
  // weight, so times ascend and fill the window exactly.
  double total = cumulative_.back();
  double target = (static_cast<double>(site_done_) + site_rng_.Unit()) /
                  static_cast<double>(site_rows_) * total;
  ++site_done_;

  // Invert the cumulative weight; targets ascend, so the cursor does too.
  size_t last = cumulative_.size() - 2;
  while (bucket_ < last && cumulative_[bucket_ + 1] <= target) {
    ++bucket_;
  }
  double weight = cumulative_[bucket_ + 1] - cumulative_[bucket_];
  double frac = weight > 0 ? (target - cumulative_[bucket_]) / weight : 0;
  EventTimeMs from = bucket_start_[bucket_];
  EventTimeMs to = bucket_start_[bucket_ + 1];
  EventTimeMs t =
      from + static_cast<int64_t>(frac * static_cast<double>(to - from));

  // Request start and insert order differ by up to a second.
  if (site_rng_.Chance(kJitterShare)) {
    t += static_cast<int64_t>(site_rng_.Below(2 * kMaxJitterMs + 1)) -
         kMaxJitterMs;
  }
  return std::clamp(t, o_.start, o_.end - 1);
}

EventTimeMs HistoryTimeline::NextAttackTime() {
  // Evenly spread with a little noise, like a script in a loop.
  double slot = (static_cast<double>(attack_done_) + attack_rng_.Unit()) /
                static_cast<double>(o_.attacker_rows);
  ++attack_done_;
  EventTimeMs t =
      attack_start_ +
      static_cast<int64_t>(slot * static_cast<double>(attack_span_ms_));
  return std::min(t, o_.end - 1);
}

HistoryRows::HistoryRows(const GeneratorOptions& g, const TimelineOptions& t)
    : generator_(g), timeline_(t) {}

bool HistoryRows::Next(ActivityRow& row) {
  EventTimeMs t = 0;
  bool attacker = false;
  if (!timeline_.Next(t, attacker)) {
    return false;
  }
  if (attacker) {
    generator_.FillAttack(row);
  } else {
    generator_.Fill(row);
  }
  row.timestamp = t;
  return true;
}

}  // namespace pulse::generate
