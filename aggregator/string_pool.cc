#include "aggregator/string_pool.h"

#include "common/hll.h"

namespace pulse::aggregator {

uint32_t StringPool::Intern(std::string_view s) {
  if (const uint32_t* id = ids_.Find(s)) {
    return *id;
  }
  // The map keeps a view of our own copy, not of the caller's buffer.
  auto id = static_cast<uint32_t>(strings_.size());
  strings_.emplace_back(s);
  hashes_.push_back(0);
  hashed_.push_back(false);
  bool fresh = false;
  ids_.FindOrInsert(strings_.back(), fresh) = id;
  return id;
}

uint64_t StringPool::Hash(uint32_t id) {
  if (!hashed_[id]) {
    hashes_[id] = HllHashBytes(strings_[id]);
    hashed_[id] = true;
  }
  return hashes_[id];
}

void StringPool::Clear() {
  ids_.Clear();
  strings_.clear();
  hashes_.clear();
  hashed_.clear();
}

}  // namespace pulse::aggregator
