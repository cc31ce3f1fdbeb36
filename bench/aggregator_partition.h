// What the aggregator benchmarks share: one partition's work as the
// aggregator keeps it (apply, flush into RocksDB), a temporary state
// store, the corpus as an endless stream, and warmed alert windows.
//
// Input: bench/aggregator_corpus.h, event time ~1 ms apart, so a
// 50,000-event flush covers ~50 s. Alert windows are first warmed with an
// hour of that traffic, so flushes persist steady-state windows.

#ifndef PULSE_BENCH_AGGREGATOR_PARTITION_H_
#define PULSE_BENCH_AGGREGATOR_PARTITION_H_

#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "aggregator/alerts.h"
#include "aggregator/event_parser.h"
#include "aggregator/proxy_detector.h"
#include "aggregator/rollup_batch.h"
#include "aggregator/state_store.h"
#include "bench/aggregator_corpus.h"

namespace pulse::aggregator::bench {

inline constexpr size_t kWarmLaps = 19;        // ~63 minutes of event time
inline constexpr size_t kFlushEvery = 50'000;  // ~500 ms at the target rate
inline constexpr std::string_view kTopic = "directus.activity";

// A benchmark has no caller to tell: fail loudly.
inline void Check(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::abort();
  }
}

// Where flushes spend time and bytes, summed over flushes.
struct FlushProfile {
  double take_changes_s = 0, rollup_json_s = 0, alert_json_s = 0;
  double commit_s = 0, clear_s = 0;
  size_t rollup_bytes = 0, window_minutes = 0, flushes = 0;
};

// One partition's open work, as the aggregator keeps it.
class Partition {
 public:
  explicit Partition(const AlertEngine& alerts) : alerts_(alerts) {}

  // Aggregator::Apply's steps for one parsed event.
  void Apply(const ParsedEvent& e, EventTimeMs now) {
    if (e.position) {
      if (*e.position <= position_) {
        return;  // a replay
      }
      position_ = *e.position;
    }
    std::array<bool, 3> skip{};
    for (size_t g = 0; g < 3; ++g) {
      skip[g] = kRetentionMs[g] > 0 && e.time < now - kRetentionMs[g];
    }
    batch_.Add({.time = e.time,
                .action = e.action,
                .collection = e.collection,
                .user = e.user ? &*e.user : nullptr,
                .ip = e.ip ? &*e.ip : nullptr},
               skip);
    newest_ = std::max(newest_, e.time);
    now_ = now;
    if (e.ip) {
      alerts_.set_now(now);
      alerts_.Observe(*e.ip, e.time, e.collection, e.action, fired_);
      proxy_.Observe(*e.ip);
    }
  }

  // The flush: rollup message, the alert minutes that changed, one RocksDB
  // commit, Clear().
  void Flush(StateStore& store) {
    using Clock = std::chrono::steady_clock;
    auto t = Clock::now();
    auto lap = [&t](double& into) {
      auto now = Clock::now();
      into += std::chrono::duration<double>(now - t).count();
      t = now;
    };
    changes_.clear();
    alerts_.set_now(now_);
    alerts_.TakeChanges(changes_);
    lap(profile_.take_changes_s);

    message_.clear();
    message_.reserve(batch_.ApproximateBytes() + 1024);
    message_ += "{\"v\":2,\"events\":" + std::to_string(batch_.events());
    batch_.AppendJsonMembers(message_);
    size_t rollup_end = message_.size();
    lap(profile_.rollup_json_s);

    message_ += ",\"alerts\":[";
    for (size_t i = 0; i < fired_.size(); ++i) {
      message_ += i == 0 ? "" : ",";
      fired_[i].AppendJson(message_);
    }
    message_ += "]}";
    lap(profile_.alert_json_s);

    record_.events_applied += batch_.events();
    record_.newest_event_time = newest_;
    record_.position = position_;
    Check(store.Commit(std::string(kTopic), 0, record_, changes_), "commit");
    lap(profile_.commit_s);
    batch_.Clear();
    fired_.clear();
    lap(profile_.clear_s);

    profile_.rollup_bytes += rollup_end;
    for (const IpChange& c : changes_) {
      profile_.window_minutes += c.minutes.size();
    }
    ++profile_.flushes;
  }

  void StartLap() { position_ = {}; }  // the corpus repeats its positions
  size_t pending_bytes() const { return batch_.ApproximateBytes(); }
  const std::string& message() const { return message_; }  // the last flush's
  const FlushProfile& profile() const { return profile_; }

 private:
  static constexpr std::array<int64_t, 3> kRetentionMs = {7 * 86'400'000LL,
                                                          90 * 86'400'000LL, 0};

  RollupBatch batch_;
  AlertEngine alerts_;
  ProxyDetector proxy_{50};
  std::vector<Alert> fired_;
  std::vector<IpChange> changes_;
  std::string message_;
  FlushProfile profile_;
  PartitionRecord record_;
  SourcePos position_;
  EventTimeMs newest_ = 0;
  EventTimeMs now_ = 0;
};

// A RocksDB state store in a fresh temporary directory.
class TempStore {
 public:
  TempStore() {
    std::string dir = "/tmp/pulse_aggregator_bench_XXXXXX";
    dir_ = mkdtemp(dir.data());
    auto s = StateStore::Open(dir_.string());
    Check(s.status(), "open state store");
    store_ = std::move(*s);
  }
  ~TempStore() {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  StateStore& operator*() { return *store_; }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<StateStore> store_;
};

// Message `i` of the endless stream, parsed, with its lap's time shift.
inline bool ParseNth(EventParser& parser, size_t i, ParsedEvent& e) {
  const Corpus& c = GetCorpus();
  if (parser.Parse(c.messages[i % kMessages], e).outcome !=
      ParseOutcome::kEvent) {
    return false;
  }
  e.time += static_cast<int64_t>(i / kMessages) * c.span_ms;
  return true;
}

// The corpus parsed once into owned strings, for the later stages alone.
struct OwnedEvent {
  EventTimeMs time;
  std::string action, collection, ip;
  std::optional<std::string> user;
};

inline const std::vector<OwnedEvent>& Parsed() {
  static const std::vector<OwnedEvent> events = [] {
    EventParser parser;
    ParsedEvent e;
    std::vector<OwnedEvent> out;
    for (size_t i = 0; i < kMessages; ++i) {
      if (ParseNth(parser, i, e)) {
        out.push_back(
            {e.time, std::string(e.action), std::string(e.collection),
             std::string(e.ip.value_or("")),
             e.user ? std::optional<std::string>(*e.user) : std::nullopt});
      }
    }
    return out;
  }();
  return events;
}

// Event `i` of the endless stream without a position (no replay check).
inline ParsedEvent NthParsed(size_t i) {
  const std::vector<OwnedEvent>& events = Parsed();
  const OwnedEvent& o = events[i % events.size()];
  ParsedEvent e;
  e.time =
      o.time + static_cast<int64_t>(i / events.size()) * GetCorpus().span_ms;
  e.action = o.action;
  e.collection = o.collection;
  e.user = o.user;
  e.ip = o.ip;
  return e;
}

inline const AlertRules kRules;
inline constexpr size_t kWarmEvents = kWarmLaps * kMessages;

// Alert windows after an hour of traffic; timed loops start at event
// kWarmEvents, right after it.
inline const AlertEngine& WarmAlerts() {
  static const AlertEngine warm = [] {
    AlertEngine engine(&kRules);
    std::vector<Alert> fired;
    for (size_t i = 0; i < kWarmEvents; ++i) {
      ParsedEvent e = NthParsed(i);
      engine.set_now(e.time);
      engine.Observe(*e.ip, e.time, e.collection, e.action, fired);
      fired.clear();
    }
    std::vector<IpChange> changes;
    engine.TakeChanges(changes);
    return engine;
  }();
  return warm;
}

// Per-flush averages of a FlushProfile, as counters.
inline void ReportFlushes(benchmark::State& state, const FlushProfile& f) {
  const std::pair<const char*, double> sums[] = {
      {"ms_take_changes", f.take_changes_s * 1e3},
      {"ms_rollup_json", f.rollup_json_s * 1e3},
      {"ms_alert_json", f.alert_json_s * 1e3},
      {"ms_commit", f.commit_s * 1e3},
      {"ms_clear", f.clear_s * 1e3},
      {"rollup_bytes", static_cast<double>(f.rollup_bytes)},
      {"window_minutes_written", static_cast<double>(f.window_minutes)}};
  for (const auto& [name, sum] : sums) {
    state.counters[name] = f.flushes ? sum / static_cast<double>(f.flushes) : 0;
  }
  state.counters["flushes"] = static_cast<double>(f.flushes);
}

}  // namespace pulse::aggregator::bench

#endif  // PULSE_BENCH_AGGREGATOR_PARTITION_H_
