// The aggregator's per-event hot path on one core: parse an activity
// message, add it to the rollup batch, feed the alert windows; every flush
// interval's worth of events, build the rollup message, take the changed
// alert windows and commit them to RocksDB. Target: >= 500k events/s
// (per-core anchors: Kafka Streams ~64k/s, Flink ~76k/s). items_per_second
// counts events. Shared pieces and the input: bench/aggregator_partition.h.

#include <benchmark/benchmark.h>

#include <chrono>
#include <vector>

#include "bench/aggregator_partition.h"

namespace pulse::aggregator::bench {
namespace {

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
}  // namespace pulse::aggregator::bench

BENCHMARK_MAIN();
