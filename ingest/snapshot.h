// The initial snapshot: the rows that existed when the slot was created.
//
// First run: the slot is created with an exported snapshot and the rows are
// copied inside it (SET TRANSACTION SNAPSHOT), so together with the slot's
// stream, which starts exactly where that snapshot ends, every row arrives
// once. Rows are copied in id order and a checkpoint file records the last
// id whose messages are durable downstream, every few thousand rows.
//
// After a crash the exported snapshot is gone. The copy resumes after the
// checkpointed id in a new transaction, keeping only rows whose inserting
// transaction the original snapshot saw as committed (its xmin/xmax/xip,
// saved in the checkpoint): rows committed later reach us through the slot,
// so they are not copied twice. The redo is bounded by the checkpoint
// interval.
//
// Single-threaded. Rows returned point into the reader's buffer and are
// valid until the next call.

#ifndef PULSE_INGEST_SNAPSHOT_H_
#define PULSE_INGEST_SNAPSHOT_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/activity.h"
#include "common/pg.h"
#include "common/status.h"
#include "ingest/source.h"

namespace pulse::ingest {

// The checkpoint file, `<state_dir>/ingest-<slot>.state`.
struct SnapshotState {
  std::string slot;
  bool slot_created = false;  // false: the slot is being created
  Lsn consistent_point;       // where the slot's stream begins
  std::string pg_snapshot;    // the slot's snapshot, "xmin:xmax:xip,..."
  bool done = false;
  int64_t last_id = 0;  // rows with id <= last_id are durable
  int64_t rows = 0;     // rows durable so far
  // The table the slot streams (its oid), to tell a recreated table from
  // one removed from the publication; 0 when not yet known.
  int64_t table_oid = 0;
};

// A pg_snapshot text is "xmin:xmax:xip,xip,..." of decimal numbers; it is
// spliced into SQL, so nothing else is accepted.
bool IsSnapshotText(std::string_view s);

Result<std::optional<SnapshotState>> LoadSnapshotState(const std::string& path);
// Writes atomically (temp file, fsync, rename, fsync of the folder).
Status SaveSnapshotState(const std::string& path, const SnapshotState& s);

class SnapshotReader {
 public:
  // Opens a COPY of rows with id > state.last_id in id order. With
  // `exported_snapshot`, inside it; otherwise filtered by
  // state.pg_snapshot.
  static Result<SnapshotReader> Open(const std::string& url,
                                     const SourceNames& names,
                                     const SnapshotState& state,
                                     const std::string& exported_snapshot);

  // The snapshot the copy runs in, as pg_current_snapshot() prints it.
  const std::string& pg_snapshot() const { return pg_snapshot_; }
  // Rows in the table when the copy began (an estimate for progress).
  int64_t estimated_rows() const { return estimated_rows_; }

  // The next row; false at the end (then check `status`).
  bool Next(ActivityRow& row, Status& status);

 private:
  SnapshotReader() = default;
  Status ParseLine(std::string_view line, ActivityRow& row);

  PgConn conn_;
  std::string pg_snapshot_;
  int64_t estimated_rows_ = 0;
  std::vector<ActivityField> fields_;  // COPY column order
  std::string unescaped_;              // backing store of the last row
};

}  // namespace pulse::ingest

#endif  // PULSE_INGEST_SNAPSHOT_H_
