// StateStore: the aggregator's local state in RocksDB, one store per
// process (under state_dir/aggregator).
//
// Per partition of the activity topic it keeps the position the
// partition's results were flushed to and the alert windows of its IPs:
//
//   "p" 0x00 <topic> 0x00 <partition:u32 BE>            -> PartitionRecord
//   "a" 0x00 <topic> 0x00 <partition:u32 BE> 0x00 <ip>  -> IpActivity bytes
//
// Commit() writes a partition's record and every changed window in one
// atomic WriteBatch, so the offset and the state it produced never
// disagree. The sink's pulse.partition_state is the authority on where a
// partition resumes; the local copy saves reading the windows back from
// PostgreSQL when it matches (same broker, same offset).
//
// Thread-safe as RocksDB is; the aggregator uses it from one thread.

#ifndef PULSE_AGGREGATOR_STATE_STORE_H_
#define PULSE_AGGREGATOR_STATE_STORE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aggregator/event_parser.h"
#include "common/status.h"

namespace rocksdb {
class DB;
}

namespace pulse::aggregator {

// Where a partition's results stand.
struct PartitionRecord {
  std::string cluster_id;
  int64_t next_offset = 0;  // every offset below is in the rollups
  int64_t generation = 0;
  SourcePos position;  // highest source position applied
  EventTimeMs newest_event_time = 0;
  int64_t events_applied = 0;
};

class StateStore {
 public:
  static Result<std::unique_ptr<StateStore>> Open(const std::string& path);
  ~StateStore();

  Result<std::optional<PartitionRecord>> Load(const std::string& topic,
                                              int32_t partition);
  // Calls `fn(ip, bytes)` for each IP window stored for the partition.
  Status ForEachWindow(
      const std::string& topic, int32_t partition,
      const std::function<Status(std::string_view, std::string_view)>& fn);

  // One atomic write: the record, changed windows, dropped windows
  // (nullopt). With `replace`, the partition's old windows go first.
  using WindowChange = std::pair<std::string, std::optional<std::string>>;
  Status Commit(const std::string& topic, int32_t partition,
                const PartitionRecord& record,
                const std::vector<WindowChange>& windows, bool replace = false);

  // Bytes held: SST files plus memtables.
  uint64_t SizeOnDisk() const;

 private:
  StateStore() = default;
  std::unique_ptr<rocksdb::DB> db_;
};

std::string EncodePartitionRecord(const PartitionRecord& r);
std::optional<PartitionRecord> DecodePartitionRecord(std::string_view bytes);

}  // namespace pulse::aggregator

#endif  // PULSE_AGGREGATOR_STATE_STORE_H_
