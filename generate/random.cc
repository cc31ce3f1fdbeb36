#include "generate/random.h"

#include <numeric>

namespace pulse::generate {

namespace {

constexpr uint64_t Rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

constexpr uint64_t kFullThreshold = uint64_t{1} << 32;

}  // namespace

Rng::Rng(uint64_t seed) {
  // splitmix64 spreads any seed, even 0, over all four words.
  uint64_t x = seed;
  for (uint64_t& word : s_) {
    x += 0x9e3779b97f4a7c15ULL;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    word = z ^ (z >> 31);
  }
}

Rng Rng::FromState(uint64_t s0, uint64_t s1, uint64_t s2, uint64_t s3) {
  Rng rng(0);
  rng.s_[0] = s0;
  rng.s_[1] = s1;
  rng.s_[2] = s2;
  rng.s_[3] = s3;
  return rng;
}

uint64_t Rng::Next() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

WeightedSampler::WeightedSampler(const std::vector<double>& weights) {
  const size_t n = weights.size();
  threshold_.assign(n, kFullThreshold);
  alias_.resize(n);
  std::iota(alias_.begin(), alias_.end(), 0u);

  // Scale so the average column holds exactly 1.
  double sum = 0;
  for (double w : weights) {
    sum += w > 0 ? w : 0;
  }
  std::vector<double> scaled(n);
  for (size_t i = 0; i < n; ++i) {
    scaled[i] = weights[i] > 0 ? weights[i] * static_cast<double>(n) / sum : 0;
  }

  // Vose's pairing: each under-full column is topped up by one over-full
  // column. The order of the work lists is fixed, so the table is too.
  std::vector<uint32_t> small;
  std::vector<uint32_t> large;
  for (uint32_t i = 0; i < n; ++i) {
    (scaled[i] < 1.0 ? small : large).push_back(i);
  }
  while (!small.empty() && !large.empty()) {
    uint32_t s = small.back();
    small.pop_back();
    uint32_t l = large.back();
    threshold_[s] = static_cast<uint64_t>(scaled[s] * 4294967296.0);
    alias_[s] = l;
    scaled[l] = (scaled[l] + scaled[s]) - 1.0;
    if (scaled[l] < 1.0) {
      large.pop_back();
      small.push_back(l);
    }
  }

  // Whatever is left holds 1 up to rounding: it always keeps itself.
  for (uint32_t i : small) {
    threshold_[i] = kFullThreshold;
  }
}

uint32_t WeightedSampler::Sample(Rng& rng) const {
  // High bits pick the column, low bits decide between it and its alias.
  uint64_t r = rng.Next();
  auto column = static_cast<uint32_t>(((r >> 32) * alias_.size()) >> 32);
  return (r & 0xffffffffULL) < threshold_[column] ? column : alias_[column];
}

std::vector<double> ZipfWeights(uint32_t n, double shift) {
  std::vector<double> w(n);
  for (uint32_t i = 0; i < n; ++i) {
    w[i] = 1.0 / (static_cast<double>(i + 1) + shift);
  }
  return w;
}

void FormatUuid(uint64_t hi, uint64_t lo, char* out) {
  static constexpr char kHex[] = "0123456789abcdef";

  // Version 4 in the third group, variant 10xx in the fourth.
  hi = (hi & ~0xf000ULL) | 0x4000ULL;
  lo = (lo & ~(0xc0ULL << 56)) | (0x80ULL << 56);

  int pos = 0;
  for (int nibble = 0; nibble < 32; ++nibble) {
    if (pos == 8 || pos == 13 || pos == 18 || pos == 23) {
      out[pos++] = '-';
    }
    uint64_t word = nibble < 16 ? hi : lo;
    int shift = 60 - 4 * (nibble % 16);
    out[pos++] = kHex[(word >> shift) & 0xf];
  }
}

std::string UuidFromBits(uint64_t hi, uint64_t lo) {
  std::string out(36, '-');
  FormatUuid(hi, lo, out.data());
  return out;
}

}  // namespace pulse::generate
