// ConsumedOffsets: how far the aggregators of this process have read each
// partition of a topic. `pulse run` on the embedded broker paces its
// ingest by it: the broker keeps only ~5 MiB per partition, so what matters
// is that the aggregator reads messages before they are dropped (durability
// is a separate matter: WAL is acknowledged only past committed rollups).
//
// Thread-safe.

#ifndef PULSE_COMMON_CONSUMED_OFFSETS_H_
#define PULSE_COMMON_CONSUMED_OFFSETS_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace pulse {

class ConsumedOffsets {
 public:
  static ConsumedOffsets& Get() {
    static auto* offsets = new ConsumedOffsets();
    return *offsets;
  }

  // The next offset the aggregator will read in topic/partition.
  void Set(const std::string& topic, int32_t partition, int64_t next) {
    std::lock_guard<std::mutex> lock(mu_);
    offsets_[topic][partition] = next;
  }

  std::map<int32_t, int64_t> Of(const std::string& topic) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = offsets_.find(topic);
    return it == offsets_.end() ? std::map<int32_t, int64_t>() : it->second;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::map<int32_t, int64_t>> offsets_;
};

}  // namespace pulse

#endif  // PULSE_COMMON_CONSUMED_OFFSETS_H_
