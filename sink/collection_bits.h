// CollectionBits: the numbering of collections behind the collections_bits
// columns (schemas/migrations/004_collection_bits.sql).
//
// Loaded whole at the start of each write, inside the sink's transaction
// and under its advisory lock, so two sinks never hand out one number
// twice and a rolled-back transaction leaves no number behind. New
// collections get the lowest free numbers, in name order, until 256 are
// taken; later ones have none, and rows that touch them keep NULL bitmaps
// (answered from sketches).

#ifndef PULSE_SINK_COLLECTION_BITS_H_
#define PULSE_SINK_COLLECTION_BITS_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "common/hll.h"
#include "common/pg.h"
#include "common/status.h"

namespace pulse::sink {

class CollectionBits {
 public:
  static constexpr int kBits = 256;

  // Reads pulse.collection_bits, then numbers those of `names` it lacks
  // (while numbers are free).
  static Result<CollectionBits> LoadAndRegister(
      PgConn& conn, const std::set<std::string>& names);

  // The bitmap of the collections an exact sketch holds, as COPY text of
  // a varbit ("X" and hex digits up to the last set bit, bit 0 leftmost;
  // cast to bit(256) it pads with zeros); nullopt when the sketch holds
  // registers or a collection without a number.
  std::optional<std::string> BitmapOf(const Hll& sketch) const;

 private:
  // hll_hash_text of the name (as the sketches store it) -> number.
  std::unordered_map<int64_t, int> by_hash_;
};

}  // namespace pulse::sink

#endif  // PULSE_SINK_COLLECTION_BITS_H_
