// The sink's upsert on a real PostgreSQL: Writer::Apply of one rollup
// message, as `pulse sink` applies a batch. items_per_second counts rollup
// rows written (all tables, all granularities); wall time, since the work
// is PostgreSQL's.
//
// The database comes from PULSE_BENCH_PG_URL (scripts/bench creates one
// and sets it); without it every benchmark is skipped. The schema is
// migrated with retention off, so nothing is dropped on the way in.
//
// A message summarises `events` events one second apart (so one minute
// bucket holds 60 of them), over 40 collections, 2,000 users and 5,000
// IPs, as the aggregator would send it:
//   NewBuckets       every iteration moves a day later, so each minute,
//                    hour and day row is new (a backfill's shape);
//   ExistingBuckets  every iteration writes the same buckets again, so
//                    each row conflicts: counts add, sketches union (live
//                    traffic landing in buckets that already exist).

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <stdlib.h>

#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "common/hll.h"
#include "sink/schema.h"
#include "sink/writer.h"

namespace pulse::sink {
namespace {

constexpr EventTimeMs kStart = 1796256000000;  // 2026-12-03T00:00:00Z
constexpr int kCollections = 40;
constexpr int kUsers = 2000;
constexpr int kIps = 5000;
constexpr const char* kActions[] = {"create", "update", "update", "delete",
                                    "login"};

// A benchmark has no caller to tell: fail loudly.
void Check(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::abort();
  }
}

// The writer on a freshly migrated schema, or nullopt without a database.
std::optional<Writer> OpenWriter() {
  const char* url = std::getenv("PULSE_BENCH_PG_URL");
  if (url == nullptr || *url == '\0') {
    return std::nullopt;
  }
  auto admin = PgConn::Connect(url, "pulse-sink-bench");
  Check(admin.status(), "connect");
  Check(admin->Run("DROP SCHEMA IF EXISTS pulse CASCADE"), "drop schema");
  RetentionSettings keep_all{std::chrono::milliseconds(0),
                             std::chrono::milliseconds(0),
                             std::chrono::milliseconds(0)};
  auto schema = MigrateSchema(*admin, keep_all);
  Check(schema.status(), "migrate");
  auto writer = Writer::Connect(url, *schema, keep_all);
  Check(writer.status(), "writer");
  return std::move(writer).value();
}

// The deltas of `events` events starting at `start`, merged per row as
// the aggregator's RollupBatch would merge them.
RollupMessage MakeMessage(EventTimeMs start, int events) {
  using SketchKey = std::tuple<Grain, EventTimeMs, std::string>;
  struct Sketch {
    int64_t count = 0;
    int64_t logins = 0;
    Hll hll;
  };
  std::map<std::tuple<Grain, EventTimeMs, std::string, std::string>, int64_t>
      activity;
  std::map<SketchKey, Sketch> collections, users, ips;

  for (int i = 0; i < events; ++i) {
    EventTimeMs t = start + int64_t{i} * 1000;
    std::string collection =
        fmt::format("collection_{}", (i * 7) % kCollections);
    std::string action = kActions[i % 5];
    std::string user = fmt::format("user-{:04}", (i * 13) % kUsers);
    std::string ip = fmt::format("203.0.{}.{}", (i * 31 % kIps) / 250,
                                 (i * 31 % kIps) % 250);
    for (Grain g : {Grain::kMinute, Grain::kHour, Grain::kDay}) {
      EventTimeMs unit = g == Grain::kMinute ? kMsPerMinute
                         : g == Grain::kHour ? kMsPerHour
                                             : kMsPerDay;
      EventTimeMs bucket = FloorTo(t, unit);
      ++activity[{g, bucket, collection, action}];
      Sketch& c = collections[{g, bucket, collection}];
      ++c.count;
      c.hll.Add(HllHashBytes(user));
      Sketch& u = users[{g, bucket, user}];
      ++u.count;
      u.hll.Add(HllHashBytes(collection));
      Sketch& p = ips[{g, bucket, ip}];
      ++p.count;
      p.logins += action == "login" ? 1 : 0;
      p.hll.Add(HllHashBytes(collection));
    }
  }

  RollupMessage m;
  m.topic = "directus.activity";
  m.cluster = "bench";
  m.generation = 1;
  m.events = events;
  m.newest_event_time = start + int64_t{events - 1} * 1000;
  for (const auto& [key, n] : activity) {
    const auto& [g, bucket, collection, action] = key;
    m.activity.push_back({g, bucket, collection, action, n});
  }
  auto sketches = [](const std::map<SketchKey, Sketch>& from,
                     std::vector<SketchDelta>& to) {
    for (const auto& [key, s] : from) {
      const auto& [g, bucket, name] = key;
      to.push_back({g, bucket, name, s.count, s.logins, s.hll.Serialize()});
    }
  };
  sketches(collections, m.collections);
  sketches(users, m.users);
  sketches(ips, m.ips);
  return m;
}

// One Apply per iteration; `shift` moves each iteration's buckets later.
void RunApply(benchmark::State& state, EventTimeMs shift) {
  std::optional<Writer> writer = OpenWriter();
  if (!writer) {
    state.SkipWithError("PULSE_BENCH_PG_URL is not set");
    return;
  }
  const int events = static_cast<int>(state.range(0));
  int64_t offset = 0;
  int64_t rows = 0;
  int iteration = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<Incoming> batch(1);
    batch[0].offset = iteration;
    batch[0].message = MakeMessage(kStart + iteration * shift, events);
    batch[0].message.from = offset;
    batch[0].message.to = offset + events;
    offset += events;
    ++iteration;
    state.ResumeTiming();

    auto report = writer->Apply(batch, "directus.activity.rollups", "bench");
    Check(report.status(), "apply");
    for (const auto& [table, n] : report->rows) {
      rows += n;
    }
  }
  state.SetItemsProcessed(rows);
  state.counters["rows_per_apply"] =
      static_cast<double>(rows) / std::max(iteration, 1);
}

void BM_ApplyNewBuckets(benchmark::State& state) { RunApply(state, kMsPerDay); }
BENCHMARK(BM_ApplyNewBuckets)
    ->ArgName("events")
    ->Arg(1000)
    ->Arg(10000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_ApplyExistingBuckets(benchmark::State& state) { RunApply(state, 0); }
BENCHMARK(BM_ApplyExistingBuckets)
    ->ArgName("events")
    ->Arg(1000)
    ->Arg(10000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace pulse::sink

BENCHMARK_MAIN();
