// The aggregator's per-event hot path on one core: parse an activity
// message, add it to the rollup batch, feed the alert windows; every flush
// interval's worth of events, build the rollup message, take the changed
// alert windows and commit them to RocksDB. Target: >= 500k events/s
// (per-core anchors: Kafka Streams ~64k/s, Flink ~76k/s). items_per_second
// counts events.
//
// Input: bench/aggregator_corpus.h, event time ~1 ms apart, so a
// 50,000-event flush covers ~50 s. Alert windows are first warmed with an
// hour of that traffic, so flushes persist steady-state windows.

#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <chrono>
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

namespace pulse::aggregator {
namespace {

using bench::Corpus;
using bench::GetCorpus;
using bench::kMessages;

constexpr size_t kWarmLaps = 19;        // ~63 minutes of event time
constexpr size_t kFlushEvery = 50'000;  // ~500 ms at the target rate
constexpr std::string_view kTopic = "directus.activity";

// A benchmark has no caller to tell: fail loudly.
void Check(const Status& s, const char* what) {
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
bool ParseNth(EventParser& parser, size_t i, ParsedEvent& e) {
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

const std::vector<OwnedEvent>& Parsed() {
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
ParsedEvent NthParsed(size_t i) {
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

const AlertRules kRules;
constexpr size_t kWarmEvents = kWarmLaps * kMessages;

// Alert windows after an hour of traffic; timed loops start at event
// kWarmEvents, right after it.
const AlertEngine& WarmAlerts() {
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
void ReportFlushes(benchmark::State& state, const FlushProfile& f) {
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

// Everything one event costs, flushes included. Arg: the batch size that
// forces an early flush (aggregator.max_batch_bytes; 0: never).
void BM_PerEventHotPath(benchmark::State& state) {
  const auto max_batch_bytes = static_cast<size_t>(state.range(0));
  Partition partition(WarmAlerts());
  EventParser parser;
  TempStore store;
  ParsedEvent e;
  size_t i = kWarmEvents, since_flush = 0;
  for (auto _ : state) {
    if (i % kMessages == 0) {
      partition.StartLap();
    }
    if (ParseNth(parser, i++, e)) {
      partition.Apply(e, e.time);
    }
    if (++since_flush == kFlushEvery ||
        (max_batch_bytes > 0 && partition.pending_bytes() > max_batch_bytes)) {
      partition.Flush(*store);
      since_flush = 0;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  ReportFlushes(state, partition.profile());
}
BENCHMARK(BM_PerEventHotPath)->ArgName("max_batch_bytes")->Arg(0)->Arg(900'000);

void BM_Parse(benchmark::State& state) {
  const Corpus& c = GetCorpus();
  EventParser parser;
  ParsedEvent e;
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const std::string& m = c.messages[i++ % kMessages];
    bytes += m.size();
    benchmark::DoNotOptimize(parser.Parse(m, e));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_Parse);

// RollupBatch::Add alone, cleared every flush's worth of events.
void BM_RollupAdd(benchmark::State& state) {
  Parsed();
  RollupBatch batch;
  size_t i = 0;
  for (auto _ : state) {
    ParsedEvent e = NthParsed(i);
    batch.Add({.time = e.time,
               .action = e.action,
               .collection = e.collection,
               .user = e.user ? &*e.user : nullptr,
               .ip = &*e.ip},
              {});
    if (++i % kFlushEvery == 0) {
      batch.Clear();
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_RollupAdd);

void BM_AlertObserve(benchmark::State& state) {
  AlertEngine engine = WarmAlerts();
  std::vector<Alert> fired;
  size_t i = kWarmEvents;
  for (auto _ : state) {
    ParsedEvent e = NthParsed(i++);
    engine.set_now(e.time);
    engine.Observe(*e.ip, e.time, e.collection, e.action, fired);
    fired.clear();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["ips"] = static_cast<double>(engine.size());
}
BENCHMARK(BM_AlertObserve);

// One flush of 50,000 events' work; items are the events it covers.
void BM_Flush(benchmark::State& state) {
  Partition partition(WarmAlerts());
  TempStore store;
  size_t i = kWarmEvents;
  for (auto _ : state) {
    state.PauseTiming();
    for (size_t k = 0; k < kFlushEvery; ++k, ++i) {
      ParsedEvent e = NthParsed(i);
      partition.Apply(e, e.time);
    }
    state.ResumeTiming();
    partition.Flush(*store);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(kFlushEvery));
  ReportFlushes(state, partition.profile());
}
BENCHMARK(BM_Flush)->Unit(benchmark::kMillisecond);

// What a restore reads back (the partition record, then its alert
// windows) from a store that has taken `flushes` flushes of 50,000 events,
// after PrepareForReads (timed once, as ms_prepare), as an assignment
// does.
void BM_RestoreRead(benchmark::State& state) {
  Partition partition(WarmAlerts());
  TempStore store;
  size_t i = kWarmEvents;
  for (int64_t f = 0; f < state.range(0); ++f) {
    for (size_t k = 0; k < kFlushEvery; ++k, ++i) {
      ParsedEvent e = NthParsed(i);
      partition.Apply(e, e.time);
    }
    partition.Flush(*store);
  }
  auto started = std::chrono::steady_clock::now();
  Check((*store).PrepareForReads(), "prepare for reads");
  state.counters["ms_prepare"] = std::chrono::duration<double, std::milli>(
                                     std::chrono::steady_clock::now() - started)
                                     .count();
  int64_t minutes = 0;
  for (auto _ : state) {
    Check((*store).Load(std::string(kTopic), 0).status(), "load");
    Check((*store).LoadWindows(
              std::string(kTopic), 0,
              {.minute = [&](std::string_view,
                             const MinuteCounts&) { ++minutes; },
               .cooldowns = [](std::string_view, int64_t, int64_t) {}}),
          "load windows");
  }
  state.counters["window_minutes"] =
      static_cast<double>(minutes) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_RestoreRead)
    ->ArgName("flushes")
    ->Arg(4)
    ->Arg(16)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace pulse::aggregator

BENCHMARK_MAIN();
