// Writer: applies rollup messages to the pulse tables, exactly once.
//
// One call of Apply() is one PostgreSQL transaction holding:
//   1. a transaction-level advisory lock, so sinks never interleave;
//   2. each input partition's record (pulse.partition_state) read FOR
//      UPDATE, and per message the decision:
//        to <= next_offset              already applied: skip
//        generation < stored generation a previous owner's leftover: reject
//        from == next_offset            apply, next_offset := to
//        anything else                  a gap or an overlap: reject
//      (a message from a new broker incarnation, whose offsets restart at
//      zero, is applied and resets the record). A claim from a partition's
//      new owner raises the stored generation, fencing the previous owner
//      before the new one publishes; a record a claim creates has no
//      offset yet (next_offset -1) and takes any batch;
//   3. the applied messages' deltas merged (DeltaSet), COPYed into staging
//      tables, stored sketches read and unioned, then one INSERT ... ON
//      CONFLICT per rollup table;
//   4. alerts (one row per id), partition records, and the sink's own
//      offsets on the rollups topic.
// So a batch is applied entirely or not at all, and replays, duplicates
// and stale messages change nothing.
//
// Owns its connection; used by the sink thread only.

#ifndef PULSE_SINK_WRITER_H_
#define PULSE_SINK_WRITER_H_

#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/pg.h"
#include "common/status.h"
#include "sink/rollup_message.h"
#include "sink/schema.h"

namespace pulse::sink {

// A message read from the rollups topic.
struct Incoming {
  int32_t rollups_partition = 0;
  int64_t offset = 0;
  RollupMessage message;
};

struct ApplyReport {
  int applied = 0;
  int skipped = 0;                      // already applied
  int rejected = 0;                     // stale owner, gap or overlap
  int claims = 0;                       // new owners' generations stored
  std::map<std::string, int64_t> rows;  // upserted per table
  EventTimeMs newest_event_time = 0;    // among applied messages
  int64_t events = 0;
};

class Writer {
 public:
  static Result<Writer> Connect(const std::string& url,
                                const SchemaInfo& schema,
                                const RetentionSettings& retention);

  // Applies `batch` (in topic order) in one transaction, recording the
  // sink's next offsets on `rollups_topic` of broker `cluster`.
  Result<ApplyReport> Apply(const std::vector<Incoming>& batch,
                            const std::string& rollups_topic,
                            const std::string& cluster);

  // The sink's next offset per rollups partition for `cluster`.
  Result<std::map<int32_t, int64_t>> LoadOffsets(const std::string& topic,
                                                 const std::string& cluster);

  // Deletes buckets older than their retention; returns rows deleted.
  Result<int64_t> EnforceRetention();

  // Gives user and IP rows written before migration 004 their bitmaps,
  // from their stored (whole) sketches: reads at most `max_rows` rows per
  // call, in one transaction under the sink's lock, and resumes where the
  // last call stopped. Once the pass over the six tables is done it is
  // recorded in pulse.settings, so later starts skip it. Rows that still
  // have none touch a collection without a number or hold registers, and
  // stay answered from sketches.
  struct FillProgress {
    int64_t filled = 0;  // rows given a bitmap by this call
    bool done = false;   // the pass is over (or was, before this start)
  };
  Result<FillProgress> FillOlderBitmaps(int max_rows);

  PgConn& conn() { return conn_; }

 private:
  struct Record {
    std::string cluster;
    int64_t next_offset = 0;
    int64_t generation = 0;
    int64_t events = 0;
    EventTimeMs newest = 0;
    bool exists = false;
    bool dirty = false;
    const RollupMessage* last = nullptr;   // newest applied message
    const RollupMessage* claim = nullptr;  // newest claim stored
  };
  static constexpr int64_t kNoOffset = -1;
  // Serializes sinks: "pulse.sink" in ASCII.
  static constexpr int64_t kSinkLockKey = 0x70756c73652e73;

  void ApplyClaim(const RollupMessage& m, Record& rec, ApplyReport& report);
  Result<std::map<std::string, Record>> LoadRecords(
      const std::vector<Incoming>& batch);
  Status WriteDeltas(class DeltaSet& deltas, ApplyReport& report);
  Status MergeStoredSketches(DeltaSet& deltas);
  Status WriteAlerts(const std::vector<const RollupMessage*>& applied);
  Status WriteRecords(const std::map<std::string, Record>& records);
  Status WriteOffsets(const std::vector<Incoming>& batch,
                      const std::string& rollups_topic,
                      const std::string& cluster);
  std::array<EventTimeMs, 3> OldestKept() const;

  Result<int64_t> FillOlderBitmapsStep(int max_rows);

  // Where the pass of FillOlderBitmaps stands.
  struct FillCursor {
    size_t table = 0;         // of kBitmapTables
    std::string bucket, key;  // last row read; empty: from the start
    int64_t filled = 0;       // rows given a bitmap by this pass
    bool done = false;
  };

  PgConn conn_;
  SchemaInfo schema_;
  FillCursor fill_;
  std::string upsert_sql_;  // UpsertSql(schema_)
  RetentionSettings retention_;
};

}  // namespace pulse::sink

#endif  // PULSE_SINK_WRITER_H_
