// StringPool: strings interned as small integers, each with its HLL hash
// computed at most once. The rollup batches intern per batch (and clear);
// the alert windows keep one pool and rebuild it from the names still in
// use (see AlertEngine).
//
// Views returned by Get() stay valid until Clear() or destruction; moving
// a pool keeps them valid.
//
// Not thread-safe.

#ifndef PULSE_AGGREGATOR_STRING_POOL_H_
#define PULSE_AGGREGATOR_STRING_POOL_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "aggregator/flat_map.h"

namespace pulse::aggregator {

class StringPool {
 public:
  uint32_t Intern(std::string_view s);
  std::string_view Get(uint32_t id) const { return strings_[id]; }
  uint64_t Hash(uint32_t id);  // HllHashBytes, computed once
  size_t size() const { return strings_.size(); }
  void Clear();

 private:
  std::deque<std::string> strings_;  // stable addresses for the views
  std::vector<uint64_t> hashes_;
  std::vector<bool> hashed_;
  FlatMap<std::string_view, uint32_t, std::hash<std::string_view>> ids_;
};

}  // namespace pulse::aggregator

#endif  // PULSE_AGGREGATOR_STRING_POOL_H_
