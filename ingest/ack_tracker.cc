#include "ingest/ack_tracker.h"

#include <algorithm>

namespace pulse::ingest {

AckTracker::Unit* AckTracker::Find(UnitId id) {
  // Units are contiguous ids in order, so the position is arithmetic.
  if (units_.empty() || id < units_.front().id) {
    return nullptr;
  }
  size_t i = id - units_.front().id;
  return i < units_.size() ? &units_[i] : nullptr;
}

AckTracker::UnitId AckTracker::Open() {
  Unit u;
  u.id = next_id_++;
  units_.push_back(u);
  return u.id;
}

void AckTracker::AddMessage(UnitId unit) {
  if (Unit* u = Find(unit)) {
    ++u->pending;
    ++in_flight_;
  }
}

void AckTracker::Close(UnitId unit, uint64_t tag) {
  if (Unit* u = Find(unit)) {
    u->closed = true;
    u->tag = tag;
  }
}

void AckTracker::Delivered(UnitId unit, int32_t partition, int64_t offset) {
  Unit* u = Find(unit);
  if (u == nullptr) {
    return;
  }
  --u->pending;
  --in_flight_;
  int64_t& m = u->max_offset[partition];
  m = std::max(m, offset);
  int64_t& d = delivered_[partition];
  d = std::max(d, offset);
}

void AckTracker::AbandonOpen() {
  for (Unit& u : units_) {
    if (!u.closed) {
      u.closed = true;
      u.abandoned = true;
    }
  }
}

std::optional<uint64_t> AckTracker::DurableTag(const Horizon* horizon) {
  std::optional<uint64_t> tag;
  while (!units_.empty()) {
    const Unit& u = units_.front();
    if (!u.closed || u.pending > 0) {
      break;
    }

    // With a horizon, every message must sit below the committed offset.
    bool below = true;
    if (horizon != nullptr) {
      for (const auto& [partition, offset] : u.max_offset) {
        auto it = horizon->find(partition);
        below = below && it != horizon->end() && offset < it->second;
      }
    }
    if (!below) {
      break;
    }
    if (!u.abandoned) {
      tag = u.tag;
    }
    units_.pop_front();
  }
  return tag;
}

}  // namespace pulse::ingest
