// pulse_generate: realistic synthetic Directus activity, written into a
// PostgreSQL database, deterministic from a seed.
//
// Two ways to write it:
//   - WriteHistory(): N rows spread over D days ending at a given time,
//     sent with COPY in batches (one transaction per batch). A row
//     generator thread fills large COPY buffers while the calling thread
//     sends them.
//   - RunLive(): rows stamped "now" at a steady rate, in transactions of
//     1-5 rows (like Directus batch requests), until stopped; it survives
//     PostgreSQL restarts by reconnecting with backoff.
// Both create the table when it is absent (activity_table.h). The row
// content comes from ActivityGenerator (activity_generator.h); the exact
// rows of a history run from HistoryRows (history_rows.h), which tests use
// to recompute what was written.
//
// Other components include this header only.

#ifndef PULSE_GENERATE_GENERATE_H_
#define PULSE_GENERATE_GENERATE_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "common/shutdown.h"
#include "common/status.h"
#include "common/time_util.h"
#include "generate/activity_generator.h"
#include "generate/activity_table.h"
#include "generate/history_rows.h"

namespace pulse::generate {

// Where rows go and what they look like; shared by both modes.
struct TargetOptions {
  std::string url;                                 // libpq URL
  std::string table = "public.directus_activity";  // may be schema-qualified
  // Create the table in the legacy shape (with `comment`) if absent. An
  // existing table's shape decides what is written.
  bool legacy_comment = false;
  GeneratorOptions generator;
  std::chrono::milliseconds progress_interval{5000};
  // Checked between steps; the process-wide StopSignal when null.
  StopSignal* stop = nullptr;
};

struct HistoryOptions {
  TargetOptions target;
  int64_t rows = 0;
  std::chrono::milliseconds span{30 * kMsPerDay};  // --days
  EventTimeMs end = 0;                             // exclusive
  // A burst of attacker_rows (out of `rows`) from generator.attacker_ip,
  // starting at attacker_start (default: 2 windows before `end`).
  int64_t attacker_rows = 0;
  std::optional<EventTimeMs> attacker_start;
  std::chrono::milliseconds attacker_window{10 * kMsPerMinute};
  // Rows per COPY transaction; what a failure leaves behind is the
  // batches already committed.
  int64_t batch_rows = 100'000;
};

struct LiveOptions {
  TargetOptions target;
  double rate = 10;  // rows per second
  // Stops after this long; runs until stopped when absent.
  std::optional<std::chrono::milliseconds> duration;
  // Attacker rows from generator.attacker_ip, starting attacker_after
  // into the run: at attacker_rate rows/s on top of `rate`, or as a burst
  // of attacker_burst rows spread over attacker_window (at attacker_rate
  // when both are given).
  double attacker_rate = 0;
  int64_t attacker_burst = 0;
  std::chrono::milliseconds attacker_window{10 * kMsPerMinute};
  std::chrono::milliseconds attacker_after{0};
};

struct GenerateStats {
  int64_t rows = 0;          // committed (history) or acknowledged (live)
  int64_t transactions = 0;  // COPY batches or INSERT transactions
  int64_t attacker_rows = 0;
  int64_t failed_rows = 0;  // live: rows whose INSERT failed
  int64_t reconnects = 0;
  double seconds = 0;

  double rows_per_second() const {
    return seconds > 0 ? static_cast<double>(rows) / seconds : 0;
  }
};

// The history run's timeline: the window [end - span, end) and the burst.
TimelineOptions TimelineFor(const HistoryOptions& o);

// Names the first setting that is out of range.
Status ValidateHistoryOptions(const HistoryOptions& o);
Status ValidateLiveOptions(const LiveOptions& o);

// Writes the history. A stop request abandons the batch in hand and
// returns kCancelled; batches already committed stay.
Result<GenerateStats> WriteHistory(const HistoryOptions& o);

// Writes live rows until the duration ends or a stop is requested (both
// return the stats). Gives up only on errors retrying cannot fix (a bad
// login, a missing permission, a rejected value).
Result<GenerateStats> RunLive(const LiveOptions& o);

}  // namespace pulse::generate

#endif  // PULSE_GENERATE_GENERATE_H_
