// Deterministic randomness for the generator: the same seed yields the same
// numbers on every platform and standard library.
//
// Rng is xoshiro256** seeded through splitmix64; both are written here
// rather than taken from <random>, whose distributions differ between
// library implementations. WeightedSampler draws an index in O(1) with the
// alias method; its tables are built with IEEE +, *, / only (no pow or
// exp), so they are bit-identical wherever doubles are IEEE 754.
//
// None of these types is thread-safe; give each thread its own.

#ifndef PULSE_GENERATE_RANDOM_H_
#define PULSE_GENERATE_RANDOM_H_

#include <cstdint>
#include <string>
#include <vector>

namespace pulse::generate {

// The splitmix64 finaliser: a bijective mix of 64 bits. Used to derive
// independent values (a user's uuid, a stream's seed) from a seed and a
// number without keeping state.
constexpr uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Mixes several numbers into one, order-sensitive.
constexpr uint64_t Mix64(uint64_t a, uint64_t b) { return Mix64(Mix64(a) ^ b); }

class Rng {
 public:
  explicit Rng(uint64_t seed);
  // A generator in the given raw state (not all zero); tests pin the
  // algorithm against its published outputs with it.
  static Rng FromState(uint64_t s0, uint64_t s1, uint64_t s2, uint64_t s3);

  uint64_t Next();

  // Uniform in [0, n) for n >= 1, by multiply-shift (bias below 2^-32).
  uint32_t Below(uint32_t n) {
    return static_cast<uint32_t>(((Next() >> 32) * n) >> 32);
  }
  // Uniform in [0, 1) with 53 bits.
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // True with probability p.
  bool Chance(double p) { return Unit() < p; }

 private:
  uint64_t s_[4];
};

// Draws index i with probability weights[i] / sum(weights).
class WeightedSampler {
 public:
  WeightedSampler() = default;
  // `weights` must be non-empty with a positive sum; negative entries count
  // as zero.
  explicit WeightedSampler(const std::vector<double>& weights);

  uint32_t Sample(Rng& rng) const;
  uint32_t size() const { return static_cast<uint32_t>(alias_.size()); }

 private:
  // Column i keeps i when the draw is below threshold_[i] (out of 2^32),
  // else takes alias_[i].
  std::vector<uint64_t> threshold_;
  std::vector<uint32_t> alias_;
};

// Zipf-like weights 1 / (rank + shift) for ranks 1..n: rank 1 is the
// hottest. A larger shift flattens the head.
std::vector<double> ZipfWeights(uint32_t n, double shift);

// Writes a uuid of the 128 bits hi:lo into out[0..36), as UuidFromBits.
void FormatUuid(uint64_t hi, uint64_t lo, char* out);

// A version-4 style uuid ("8-4-4-4-12", lowercase) made of the 128 bits
// hi:lo, with the version and variant bits forced.
std::string UuidFromBits(uint64_t hi, uint64_t lo);

}  // namespace pulse::generate

#endif  // PULSE_GENERATE_RANDOM_H_
