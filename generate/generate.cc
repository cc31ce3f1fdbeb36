#include "generate/generate.h"

#include <fmt/format.h>

#include <algorithm>

namespace pulse::generate {

namespace {

constexpr double kMaxRate = 100'000;
constexpr int64_t kMaxSpanMs = 100 * 366 * kMsPerDay;

Status NeedsAttackerIp(const GeneratorOptions& g, std::string_view setting) {
  if (g.attacker_ip.empty()) {
    return Status::InvalidArgument(
        fmt::format("{} needs an attacker ip (--attacker-ip)", setting));
  }
  return Status::Ok();
}

}  // namespace

TimelineOptions TimelineFor(const HistoryOptions& o) {
  TimelineOptions t;
  t.seed = o.target.generator.seed;
  t.rows = o.rows;
  t.end = o.end;
  t.start = o.end - o.span.count();
  t.attacker_rows = o.attacker_rows;
  t.attacker_window_ms = o.attacker_window.count();

  // By default the burst ends one window before `end`: recent, and whole.
  t.attacker_start = o.attacker_start.value_or(
      std::max(t.start, o.end - 2 * o.attacker_window.count()));
  return t;
}

Status ValidateHistoryOptions(const HistoryOptions& o) {
  PULSE_RETURN_IF_ERROR(ValidateGeneratorOptions(o.target.generator));
  if (o.rows < 0) {
    return Status::InvalidArgument(
        fmt::format("rows={}: must not be negative", o.rows));
  }
  if (o.span.count() <= 0 || o.span.count() > kMaxSpanMs) {
    return Status::InvalidArgument(fmt::format(
        "span={}ms: must be positive and at most 100 years", o.span.count()));
  }
  if (o.batch_rows < 1) {
    return Status::InvalidArgument(
        fmt::format("batch_rows={}: must be at least 1", o.batch_rows));
  }
  if (o.attacker_rows < 0 || o.attacker_window.count() <= 0) {
    return Status::InvalidArgument(
        fmt::format("attacker burst={} window={}ms: both must be positive",
                    o.attacker_rows, o.attacker_window.count()));
  }
  if (o.attacker_rows > 0) {
    PULSE_RETURN_IF_ERROR(NeedsAttackerIp(o.target.generator, "a burst"));
  }
  return Status::Ok();
}

Status ValidateLiveOptions(const LiveOptions& o) {
  PULSE_RETURN_IF_ERROR(ValidateGeneratorOptions(o.target.generator));
  if (!(o.rate > 0 && o.rate <= kMaxRate)) {
    return Status::InvalidArgument(fmt::format(
        "rate={}: must be above 0 and at most {} rows/s", o.rate, kMaxRate));
  }
  if (o.duration && o.duration->count() <= 0) {
    return Status::InvalidArgument(
        fmt::format("duration={}ms: must be positive", o.duration->count()));
  }
  if (!(o.attacker_rate >= 0 && o.attacker_rate <= kMaxRate) ||
      o.attacker_burst < 0 || o.attacker_window.count() <= 0 ||
      o.attacker_after.count() < 0) {
    return Status::InvalidArgument(fmt::format(
        "attacker rate={} burst={} window={}ms after={}ms: out of range",
        o.attacker_rate, o.attacker_burst, o.attacker_window.count(),
        o.attacker_after.count()));
  }
  if (o.attacker_rate > 0 || o.attacker_burst > 0) {
    PULSE_RETURN_IF_ERROR(
        NeedsAttackerIp(o.target.generator, "an attacker rate or burst"));
  }
  return Status::Ok();
}

}  // namespace pulse::generate
