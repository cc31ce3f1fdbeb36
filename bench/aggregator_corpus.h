// The aggregator benchmark's input, written by the ingest's writer
// (AppendActivityJson): ~2,000 users, ~5,000 IPs (a few busy enough to
// trip the alert rules), 40 collections, a Directus-like action mix,
// event time ~1 ms apart from 2026-12-03T00:00:00Z. Deterministic.

#ifndef PULSE_BENCH_AGGREGATOR_CORPUS_H_
#define PULSE_BENCH_AGGREGATOR_CORPUS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "common/time_util.h"

namespace pulse::aggregator::bench {

constexpr size_t kMessages = 200'000;  // cycled; time shifts each lap

struct Corpus {
  std::vector<std::string> messages;  // kMessages activity messages
  EventTimeMs span_ms = 0;            // added to event times on each lap
};

// Built once, on first use.
const Corpus& GetCorpus();

}  // namespace pulse::aggregator::bench

#endif  // PULSE_BENCH_AGGREGATOR_CORPUS_H_
