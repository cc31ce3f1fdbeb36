// Speed of the hll sketch (common/hll.h) with the project params: hashing
// uuid text, adding in each representation, merging, and the storage codec.
// items_per_second counts hashes added or sketches merged.

#include <benchmark/benchmark.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "common/hll.h"

namespace pulse {
namespace {

const HllParams kParams = kUserSketchParams;

std::vector<uint64_t> RandomHashes(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> out(n);
  for (uint64_t& h : out) {
    h = rng();
  }
  return out;
}

Hll Build(size_t n, uint64_t seed) {
  Hll h(kParams);
  for (uint64_t x : RandomHashes(seed, n)) {
    h.Add(x);
  }
  return h;
}

// Sizes that put kParams sketches in each representation.
constexpr size_t kExplicitSize = 2000;
constexpr size_t kSparseSize = 4000;
constexpr size_t kFullSize = 200000;

void BM_HashUuidText(benchmark::State& state) {
  std::mt19937_64 rng(1);
  std::vector<std::string> uuids(1024);
  for (std::string& u : uuids) {
    char text[37];
    std::snprintf(text, sizeof text, "%08x-%04x-4%03x-a%03x-%012llx",
                  unsigned(rng()), unsigned(rng() & 0xffff),
                  unsigned(rng() & 0xfff), unsigned(rng() & 0xfff),
                  static_cast<unsigned long long>(rng() & 0xffffffffffffULL));
    u = text;
  }
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(HllHashBytes(uuids[i++ & 1023]));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HashUuidText);

// Fills a fresh sketch with `range(0)` distinct hashes, all explicit.
void BM_AddExplicit(benchmark::State& state) {
  const std::vector<uint64_t> hashes = RandomHashes(2, state.range(0));
  for (auto _ : state) {
    Hll h(kParams);
    for (uint64_t x : hashes) {
      h.Add(x);
    }
    benchmark::DoNotOptimize(h);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_AddExplicit)->Arg(50)->Arg(kExplicitSize);

// Adds into a sketch that already holds `size` hashes.
void AddInto(benchmark::State& state, size_t size) {
  Hll h = Build(size, 3);
  const std::vector<uint64_t> hashes = RandomHashes(4, 4096);
  size_t i = 0;
  for (auto _ : state) {
    h.Add(hashes[i++ & 4095]);
  }
  benchmark::DoNotOptimize(h);
  state.SetItemsProcessed(state.iterations());
}
void BM_AddSparse(benchmark::State& state) { AddInto(state, kSparseSize); }
void BM_AddFull(benchmark::State& state) { AddInto(state, kFullSize); }
BENCHMARK(BM_AddSparse);
BENCHMARK(BM_AddFull);

void BM_MergeFullIntoFull(benchmark::State& state) {
  Hll a = Build(kFullSize, 5);
  const Hll b = Build(kFullSize, 6);
  for (auto _ : state) {
    benchmark::DoNotOptimize(a.Merge(b));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MergeFullIntoFull);

void BM_MergeExplicitIntoFull(benchmark::State& state) {
  Hll a = Build(kFullSize, 7);
  const Hll b = Build(state.range(0), 8);
  for (auto _ : state) {
    benchmark::DoNotOptimize(a.Merge(b));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MergeExplicitIntoFull)->Arg(50)->Arg(kExplicitSize);

// The aggregator's pattern: 20 per-batch sketches of 50 users into one.
void BM_MergeExplicitBatches(benchmark::State& state) {
  std::vector<Hll> batches;
  for (uint64_t i = 0; i < 20; ++i) {
    batches.push_back(Build(50, 100 + i));
  }
  for (auto _ : state) {
    Hll total(kParams);
    for (const Hll& b : batches) {
      benchmark::DoNotOptimize(total.Merge(b));
    }
    benchmark::DoNotOptimize(total);
  }
  state.SetItemsProcessed(state.iterations() * batches.size());
}
BENCHMARK(BM_MergeExplicitBatches);

void BM_Serialize(benchmark::State& state) {
  const Hll h = Build(state.range(0), 9);
  for (auto _ : state) {
    benchmark::DoNotOptimize(h.Serialize());
  }
  state.SetLabel(std::to_string(h.Serialize().size()) + " bytes");
}
BENCHMARK(BM_Serialize)->Arg(kExplicitSize)->Arg(kSparseSize)->Arg(kFullSize);

void BM_Deserialize(benchmark::State& state) {
  const std::string bytes = Build(state.range(0), 10).Serialize();
  for (auto _ : state) {
    auto h = Hll::Deserialize(bytes);
    benchmark::DoNotOptimize(h);
  }
  state.SetLabel(std::to_string(bytes.size()) + " bytes");
}
BENCHMARK(BM_Deserialize)->Arg(kExplicitSize)->Arg(kSparseSize)->Arg(kFullSize);

void BM_CardinalityFull(benchmark::State& state) {
  const Hll h = Build(kFullSize, 11);
  for (auto _ : state) {
    benchmark::DoNotOptimize(h.Cardinality());
  }
}
BENCHMARK(BM_CardinalityFull);

}  // namespace
}  // namespace pulse

BENCHMARK_MAIN();
