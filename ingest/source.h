// The source database as the ingest needs it: prerequisites checked with
// messages that name the fix, the publication and the replication slot.
//
// Functions take a connection and are called from the ingest thread.

#ifndef PULSE_INGEST_SOURCE_H_
#define PULSE_INGEST_SOURCE_H_

#include <optional>
#include <string>
#include <vector>

#include "common/lsn.h"
#include "common/pg.h"
#include "common/status.h"

namespace pulse::ingest {

struct SourceNames {
  std::string schema;       // "public"
  std::string table;        // "directus_activity"
  std::string publication;  // "pulse"
  std::string slot;         // "pulse"

  std::string QualifiedTable() const { return schema + "." + table; }
};

// Splits "schema.table" (schema defaults to public).
SourceNames MakeSourceNames(const std::string& table,
                            const std::string& publication,
                            const std::string& slot);

struct SlotInfo {
  bool exists = false;
  bool active = false;
  std::string plugin;
  std::string wal_status;  // reserved, extended, unreserved, lost
  Lsn restart_lsn;
  Lsn confirmed_flush;
};

// wal_level, REPLICATION privilege, the table, and a free slot (when one
// must be created). Each refusal is kFailedPrecondition naming the fix.
Status CheckPrerequisites(PgConn& conn, const SourceNames& names,
                          bool need_new_slot);

// Creates the publication (inserts only, plus truncates so they can be
// reported) when absent. An existing one must publish inserts; when it
// lacks the table (dropped and recreated since), the table is added if a
// new slot, whose snapshot copies the table, is about to be created, and
// otherwise left for the stream to notice (Session::CheckTablePublished).
Status EnsurePublication(PgConn& conn, const SourceNames& names, bool new_slot);

// The table's identity now, and whether the publication publishes it.
struct TablePublication {
  int64_t table_oid = 0;  // 0: no such table
  bool publication_exists = false;
  bool published = false;
};
Result<TablePublication> InspectTablePublication(PgConn& conn,
                                                 const SourceNames& names);

Result<SlotInfo> InspectSlot(PgConn& conn, const std::string& slot);

// Fails with the way to recover when the slot has lost WAL it needs.
Status CheckSlotUsable(const SlotInfo& slot, const std::string& name);

struct CreatedSlot {
  Lsn consistent_point;
  std::string snapshot_name;  // empty unless exported
};

// CREATE_REPLICATION_SLOT on a replication connection. With `export`, the
// snapshot stays valid while `repl` runs no other command.
Result<CreatedSlot> CreateSlot(PgConn& repl, const std::string& slot,
                               bool export_snapshot);

Status DropSlot(PgConn& conn, const std::string& slot);

// The activity columns the table has now, in table order.
Result<std::vector<std::string>> TableColumns(PgConn& conn,
                                              const SourceNames& names);

}  // namespace pulse::ingest

#endif  // PULSE_INGEST_SOURCE_H_
