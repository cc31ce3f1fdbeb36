// PgOutputDecoder: turns pgoutput (protocol version 1) messages into
// ActivityRow values and transaction boundaries.
//
// Each message is what follows the 25-byte XLogData header of the
// replication stream. Layouts (all integers big-endian, strings NUL-ended):
//
//   'B' Begin     final_lsn:u64  commit_time:i64  xid:u32
//   'C' Commit    flags:u8  commit_lsn:u64  end_lsn:u64  commit_time:i64
//   'R' Relation  relid:u32  namespace:str  name:str  identity:u8
//                 ncols:u16  { flags:u8  name:str  type:u32  typmod:i32 }*
//   'I' Insert    relid:u32  'N'  tuple
//   'U' Update    relid:u32  [('K'|'O') tuple]  'N' tuple
//   'D' Delete    relid:u32  ('K'|'O') tuple
//   'T' Truncate  nrels:u32  options:u8  relid:u32 * nrels
//   'M' Message   flags:u8  lsn:u64  prefix:str  len:u32  bytes[len]
//   'Y' Type, 'O' Origin: read and ignored
//
//   tuple := ncols:u16 { 'n' | 'u' | 't' len:u32 bytes[len] }*
//
// Columns are matched to ActivityRow fields by name on every Relation
// message, so a column added, dropped or reordered while streaming, or the
// old `comment` column, is handled by the next Relation message PostgreSQL
// sends before the first change that uses the new shape. Columns Pulse does
// not read are skipped; missing ones stay empty.
//
// Single-threaded. Rows handed to the handler point into the message buffer
// and are valid only during the callback.

#ifndef PULSE_INGEST_PGOUTPUT_H_
#define PULSE_INGEST_PGOUTPUT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/activity.h"
#include "common/status.h"

namespace pulse::ingest {

struct BeginMessage {
  Lsn final_lsn;
  int64_t commit_time_us = 0;  // microseconds since 2000-01-01
  uint32_t xid = 0;
};

struct CommitMessage {
  Lsn commit_lsn;
  Lsn end_lsn;
  int64_t commit_time_us = 0;
};

struct LogicalMessage {
  Lsn lsn;
  bool transactional = false;
  std::string_view prefix;
  std::string_view content;
};

// Changes counted and skipped: they never change a rollup.
enum class SkippedChange { kUpdate, kDelete, kTruncate, kOtherTable };

class PgOutputDecoder {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual Status OnBegin(const BeginMessage& m) = 0;
    virtual Status OnCommit(const CommitMessage& m) = 0;
    virtual Status OnInsert(const ActivityRow& row) = 0;
    virtual void OnMessage(const LogicalMessage& m) {}
    virtual void OnSkipped(SkippedChange kind) {}
    // A Relation message for the activity table; `columns` in table order.
    virtual void OnRelation(const std::vector<std::string>& columns) {}
  };

  // `schema`.`table` is the activity table; other relations are skipped.
  PgOutputDecoder(std::string schema, std::string table);

  // Decodes one message. A malformed message is kDataLoss (the stream is
  // not what PostgreSQL promises; continuing could skip rows).
  Status Decode(std::string_view message, Handler& handler);

 private:
  struct Relation {
    bool is_activity = false;
    std::vector<ActivityField> fields;  // per column, kCount to skip
  };

  Status DecodeRelation(std::string_view& in, Handler& handler);
  Status DecodeInsert(std::string_view& in, Handler& handler);
  Status DecodeTuple(std::string_view& in, const Relation& rel,
                     ActivityRow& row);

  std::string schema_;
  std::string table_;
  std::unordered_map<uint32_t, Relation> relations_;
};

// Microseconds since 2000-01-01 (PostgreSQL's epoch) to Unix milliseconds.
EventTimeMs PgEpochMicrosToUnixMs(int64_t us);

}  // namespace pulse::ingest

#endif  // PULSE_INGEST_PGOUTPUT_H_
