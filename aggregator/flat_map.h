// FlatMap: an open-addressing hash map for the aggregator's hot path.
//
// Keys and values live in one array of slots (linear probing, power-of-two
// capacity, at most half full), so a lookup touches one or two cache lines
// and inserting allocates only when the table grows. Clear() keeps the
// capacity for the next batch (and values' small buffers, see Recycle). No
// erase: a batch only grows, then clears.
//
// Not thread-safe. Pointers to values are valid until the next insert.

#ifndef PULSE_AGGREGATOR_FLAT_MAP_H_
#define PULSE_AGGREGATOR_FLAT_MAP_H_

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace pulse::aggregator {

template <typename Key, typename Value, typename Hash>
class FlatMap {
 public:
  FlatMap() { slots_.resize(kInitialCapacity); }

  // The value for `key`, default-constructed if new; `fresh` says which.
  Value& FindOrInsert(const Key& key, bool& fresh) {
    return slots_[Probe(key, fresh)].value;
  }

  // The same, with the entry's ordinal: its place in insertion order,
  // stable until Clear (At() finds the value again after the map grew).
  Value& FindOrInsert(const Key& key, bool& fresh, uint32_t& ordinal) {
    Slot& s = slots_[Probe(key, fresh)];
    ordinal = s.ordinal;
    return s.value;
  }

  // The value of the entry with that ordinal.
  Value& At(uint32_t ordinal) { return slots_[used_[ordinal]].value; }

  // The value for `key`, or null.
  Value* Find(const Key& key) {
    size_t mask = slots_.size() - 1;
    for (size_t i = Hash()(key) & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (!s.used) {
        return nullptr;
      }
      if (s.key == key) {
        return &s.value;
      }
    }
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Calls fn(key, value) for every entry, in insertion order.
  template <typename Fn>
  void ForEach(Fn&& fn) {
    for (size_t i : used_) {
      fn(slots_[i].key, slots_[i].value);
    }
  }

  // Empties the map; values are reset, capacity kept (up to a bound, so
  // one huge batch does not pin memory). Costs the entries, not the
  // capacity.
  void Clear() {
    if (slots_.size() > kKeepCapacity) {
      std::vector<Slot>(kInitialCapacity).swap(slots_);
    } else {
      for (size_t i : used_) {
        Slot& s = slots_[i];
        s.used = false;
        s.key = Key{};
        // A value that can recycle itself keeps its small buffers for the
        // next key placed here, sparing an allocation.
        if constexpr (requires(Value & v) { v.Recycle(); }) {
          s.value.Recycle();
        } else {
          s.value = Value{};
        }
      }
    }
    used_.clear();
    size_ = 0;
  }

 private:
  static constexpr size_t kInitialCapacity = 1024;
  static constexpr size_t kKeepCapacity = 1 << 18;

  // The slot holding `key`, claimed if the key is new.
  size_t Probe(const Key& key, bool& fresh) {
    if ((size_ + 1) * 2 > slots_.size()) {
      Grow();
    }
    size_t mask = slots_.size() - 1;
    for (size_t i = Hash()(key) & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (!s.used) {
        s.used = true;
        s.ordinal = static_cast<uint32_t>(used_.size());
        s.key = key;
        ++size_;
        used_.push_back(i);
        fresh = true;
        return i;
      }
      if (s.key == key) {
        fresh = false;
        return i;
      }
    }
  }

  struct Slot {
    bool used = false;
    uint32_t ordinal = 0;  // index in used_
    Key key{};
    Value value{};
  };

  void Grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    size_t mask = slots_.size() - 1;
    for (size_t& at : used_) {
      Slot& s = old[at];
      size_t i = Hash()(s.key) & mask;
      while (slots_[i].used) {
        i = (i + 1) & mask;
      }
      slots_[i] = std::move(s);
      at = i;
    }
  }

  std::vector<Slot> slots_;
  std::vector<size_t> used_;  // occupied slots, in insertion order
  size_t size_ = 0;
};

}  // namespace pulse::aggregator

#endif  // PULSE_AGGREGATOR_FLAT_MAP_H_
