#include "common/murmur3.h"

#include <bit>
#include <cstddef>

namespace pulse {
namespace {

constexpr uint64_t kMulLow = 0x87c37b91114253d5ULL;
constexpr uint64_t kMulHigh = 0x4cf5ad432745937fULL;

// Little-endian load of `n` (at most 8) bytes, so the digest does not depend
// on the host byte order.
uint64_t LoadLittleEndian(const unsigned char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    v |= uint64_t{p[i]} << (8 * i);
  }
  return v;
}

// Scrambles one 8-byte lane before it is folded into the state.
uint64_t MixLow(uint64_t k) { return std::rotl(k * kMulLow, 31) * kMulHigh; }
uint64_t MixHigh(uint64_t k) { return std::rotl(k * kMulHigh, 33) * kMulLow; }

// The 64-bit finaliser: every input bit ends up affecting every output bit.
uint64_t Avalanche(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

}  // namespace

Murmur3Digest Murmur3X64_128(std::string_view bytes, uint32_t seed) {
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t size = bytes.size();
  const size_t full_blocks = size / 16;
  uint64_t h1 = seed;
  uint64_t h2 = seed;

  // Body: each 16-byte block feeds both lanes, which then feed each other.
  for (size_t b = 0; b < full_blocks; ++b) {
    const unsigned char* block = data + 16 * b;
    h1 ^= MixLow(LoadLittleEndian(block, 8));
    h1 = std::rotl(h1, 27) + h2;
    h1 = h1 * 5 + 0x52dce729;
    h2 ^= MixHigh(LoadLittleEndian(block + 8, 8));
    h2 = std::rotl(h2, 31) + h1;
    h2 = h2 * 5 + 0x38495ab5;
  }

  // Tail: up to 15 leftover bytes, zero-extended; a lane that received no
  // bytes is left out entirely rather than mixed as zero.
  const unsigned char* tail = data + 16 * full_blocks;
  const size_t rest = size % 16;
  if (rest > 8) {
    h2 ^= MixHigh(LoadLittleEndian(tail + 8, rest - 8));
  }
  if (rest > 0) {
    h1 ^= MixLow(LoadLittleEndian(tail, rest < 8 ? rest : 8));
  }

  // Finalisation: fold in the length, cross-add, avalanche, cross-add.
  h1 ^= size;
  h2 ^= size;
  h1 += h2;
  h2 += h1;
  h1 = Avalanche(h1);
  h2 = Avalanche(h2);
  h1 += h2;
  h2 += h1;
  return {h1, h2};
}

}  // namespace pulse
