// Time helpers. Pulse keeps event times as milliseconds since the Unix epoch
// in UTC (EventTimeMs) and prints them as RFC 3339 with milliseconds and a
// "Z" suffix, the format of the activity topic.

#ifndef PULSE_COMMON_TIME_UTIL_H_
#define PULSE_COMMON_TIME_UTIL_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pulse {

// Milliseconds since 1970-01-01T00:00:00Z.
using EventTimeMs = int64_t;

constexpr int64_t kMsPerMinute = 60'000;
constexpr int64_t kMsPerHour = 3'600'000;
constexpr int64_t kMsPerDay = 86'400'000;

// Floors `t` to a multiple of `unit_ms`, also for times before 1970.
constexpr int64_t FloorTo(int64_t t, int64_t unit_ms) {
  int64_t q = t / unit_ms;
  if (t % unit_ms != 0 && t < 0) {
    --q;
  }
  return q * unit_ms;
}

// "2026-12-03T15:54:12.123Z". Writes exactly 24 characters into `out`.
void FormatRfc3339Ms(EventTimeMs t, char* out);
std::string FormatRfc3339Ms(EventTimeMs t);

// Parses RFC 3339 ("2026-12-03T15:54:12Z", "...12.123456+01:00") and
// PostgreSQL's ISO output ("2026-12-03 15:54:12.123+00"). Fractions beyond
// milliseconds are truncated, as PostgreSQL's date_trunc would.
std::optional<EventTimeMs> ParseTimestamp(std::string_view text);

// Days since 1970-01-01 for a proleptic Gregorian date.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);

EventTimeMs NowMs();

// Parses "500ms", "10s", "5m", "2h", "7d" or a bare number of milliseconds.
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);

}  // namespace pulse

#endif  // PULSE_COMMON_TIME_UTIL_H_
