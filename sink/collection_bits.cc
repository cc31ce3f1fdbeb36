#include "sink/collection_bits.h"

#include <array>
#include <atomic>
#include <vector>

#include "common/hex.h"
#include "common/log.h"

namespace pulse::sink {

namespace {

int64_t HashOf(std::string_view name) {
  return static_cast<int64_t>(HllHashBytes(name));
}

}  // namespace

Result<CollectionBits> CollectionBits::LoadAndRegister(
    PgConn& conn, const std::set<std::string>& names) {
  // What is numbered already.
  CollectionBits bits;
  std::set<std::string> known;
  std::array<bool, kBits> taken{};
  PULSE_ASSIGN_OR_RETURN(
      PgResult r,
      conn.Exec("SELECT bit, collection FROM pulse.collection_bits"));
  for (int i = 0; i < r.rows(); ++i) {
    int bit = static_cast<int>(r.GetInt(i, 0));
    std::string name = r.GetString(i, 1);
    bits.by_hash_[HashOf(name)] = bit;
    taken[bit] = true;
    known.insert(std::move(name));
  }

  // New names take the lowest free numbers; past the last, none.
  int next = 0;
  for (const std::string& name : names) {
    if (known.count(name) != 0) {
      continue;
    }
    while (next < kBits && taken[next]) {
      ++next;
    }
    if (next == kBits) {
      static std::atomic<bool> warned = false;
      if (warned.exchange(true)) {
        break;
      }
      Logger("sink").Warn(
          "collection_bits_full",
          {{"collection", name},
           {"effect",
            "rows touching it keep NULL bitmaps; user_engagement and "
            "suspicious_ips answer them from sketches, more slowly"}});
      break;
    }
    PULSE_RETURN_IF_ERROR(
        conn.Exec("INSERT INTO pulse.collection_bits (bit, collection) "
                  "VALUES ($1, $2)",
                  {std::to_string(next), name})
            .status());
    bits.by_hash_[HashOf(name)] = next;
    taken[next] = true;
  }
  return bits;
}

std::optional<std::string> CollectionBits::BitmapOf(const Hll& sketch) const {
  const std::vector<int64_t>* hashes = sketch.exact_hashes();
  if (hashes == nullptr) {
    return std::nullopt;
  }
  std::array<uint8_t, kBits / 8> bytes{};
  for (int64_t h : *hashes) {
    auto it = by_hash_.find(h);
    if (it == by_hash_.end()) {
      return std::nullopt;
    }
    bytes[it->second / 8] |= static_cast<uint8_t>(0x80 >> (it->second % 8));
  }
  // Up to the last byte with a bit set: the upsert's cast to bit(256)
  // pads the rest with zeros, and sites with tens of collections send a
  // few digits instead of 64.
  size_t used = bytes.size();
  while (used > 1 && bytes[used - 1] == 0) {
    --used;
  }
  std::string out = "X";
  AppendHex(
      out, std::string_view(reinterpret_cast<const char*>(bytes.data()), used));
  return out;
}

}  // namespace pulse::sink
