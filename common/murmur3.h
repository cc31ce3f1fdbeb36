// MurmurHash3, x64 128-bit variant: the hash postgresql-hll applies to
// values before they enter a sketch (hll_hash_text, hll_hash_bytea, ...).
//
// Written from the published description of the algorithm (Austin Appleby,
// public domain). Input is read as little-endian 64-bit blocks whatever the
// host byte order, which is what the extension does on the x86-64 and arm64
// machines it runs on. Pure function; safe from any thread.

#ifndef PULSE_COMMON_MURMUR3_H_
#define PULSE_COMMON_MURMUR3_H_

#include <cstdint>
#include <string_view>

namespace pulse {

// The two 64-bit halves of a MurmurHash3 x64 128 digest, in output order.
struct Murmur3Digest {
  uint64_t low;   // first 8 bytes of the digest; the one hll uses
  uint64_t high;  // last 8 bytes
};

// Hashes `bytes` with `seed`. Callers passing a signed seed convert it to
// uint32_t first, as the extension's C interface does.
Murmur3Digest Murmur3X64_128(std::string_view bytes, uint32_t seed);

}  // namespace pulse

#endif  // PULSE_COMMON_MURMUR3_H_
