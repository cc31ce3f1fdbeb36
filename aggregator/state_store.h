// StateStore: the aggregator's local state in RocksDB, one store per
// process (under state_dir/aggregator).
//
// Per partition of the activity topic it keeps the position the
// partition's results were flushed to and the alert windows of its IPs:
//
//   "p" 0 <topic> 0 <partition:u32 BE>                    -> PartitionRecord
//   "a" 0 <topic> 0 <partition:u32 BE> 0 <ip> 0 "m" <minute:u64 BE>
//                                        -> varints count, logins,
//                                           first and last ms in the minute
//   "a" 0 <topic> 0 <partition:u32 BE> 0 <ip> 0 "c"
//                                        -> zigzag varints: the cooldowns
//
// Commit() writes a partition's record and what changed in its windows in
// one atomic WriteBatch, so the offset and the state it produced never
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

#include "aggregator/alerts.h"
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
  // Every window piece stored for the partition, in key order: each
  // minute to `minute`, each IP's cooldowns to `cooldowns`.
  // Makes the reads below cheap: call once before restoring partitions
  // (the memtable is unsorted, so it is written out first).
  Status PrepareForReads();

  struct WindowVisitor {
    std::function<void(std::string_view ip, const MinuteCounts&)> minute;
    std::function<void(std::string_view ip, int64_t suspicious_until,
                       int64_t login_until)>
        cooldowns;
  };
  Status LoadWindows(const std::string& topic, int32_t partition,
                     const WindowVisitor& visit);

  // One atomic write: the record and the window changes. With `replace`,
  // the partition's stored windows go first.
  Status Commit(const std::string& topic, int32_t partition,
                const PartitionRecord& record,
                const std::vector<IpChange>& changes, bool replace = false);

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
