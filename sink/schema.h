// The rollup schema in the analytics database: creating and upgrading it
// (MigrateSchema, run by `pulse sink` at start) and checking it before
// reading (CheckSchema, run by `pulse query` and `pulse reconcile`).
//
// The schema is the embedded migrations (sink/migrations.h) applied in
// order, each in its own transaction and recorded in pulse.schema_version.
// Sketch columns are the hll extension's type when `CREATE EXTENSION hll`
// succeeds, else bytea holding the same bytes; the choice is made when the
// tables are first created and kept afterwards (it is in pulse.settings
// under `sketch_type`).
//
// Concurrent starts are safe: MigrateSchema holds a session advisory lock
// (kSchemaLockKey) from its first check to its last write, so a second
// process waits and then finds nothing to do. The functions here use the
// given connection only; the caller owns it and must not share it with
// another thread meanwhile.

#ifndef PULSE_SINK_SCHEMA_H_
#define PULSE_SINK_SCHEMA_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "common/config.h"
#include "common/pg.h"
#include "common/status.h"

namespace pulse::sink {

// pg_advisory_lock key of schema changes: "pulse" in ASCII.
inline constexpr int64_t kSchemaLockKey = 0x70756c7365;

// How long rollup buckets are kept, per granularity; zero keeps them. The
// sink deletes buckets older than now() minus these, and the SQL functions
// read them (pulse.settings) to answer older ranges at a coarser
// resolution instead of from half-deleted buckets.
struct RetentionSettings {
  std::chrono::milliseconds minute{7LL * 86'400'000};
  std::chrono::milliseconds hour{90LL * 86'400'000};
  std::chrono::milliseconds day{0};

  // From retention.minute, retention.hour and retention.day.
  static RetentionSettings FromConfig(const Config& config);
};

// The analytics database's URL: target.url, or source.url when empty.
std::string TargetUrl(const Config& config);

// What a migrated database offers.
struct SchemaInfo {
  int version = 0;   // newest applied migration
  bool hll = false;  // sketch columns are hll (else bytea)
  // The hll extension's schema, quoted; empty without the extension.
  std::string hll_schema;
};

// Brings the schema to NewestMigrationVersion() and writes pulse.settings.
// Refuses (kFailedPrecondition) a database migrated by a newer binary.
// Without the hll extension it logs a warning and continues with bytea;
// bytea sketch columns become hll once the extension is installed.
[[nodiscard]] Result<SchemaInfo> MigrateSchema(PgConn& conn,
                                               const RetentionSettings& r);

// Read-only check for readers: the schema exists and is exactly this
// binary's version. Errors say what is wrong and what to run.
[[nodiscard]] Result<SchemaInfo> CheckSchema(PgConn& conn);

// The SQL that creates the whole schema at once, as MigrateSchema would
// (migrations rendered in order and pulse.schema_version filled, without
// settings). For tests and for operators who review DDL before it runs.
[[nodiscard]] Result<std::string> SchemaSql(
    bool hll, const std::string& hll_schema = "public");

// An interval literal PostgreSQL accepts ("7 days", "90 minutes"); "0"
// for zero, the value pulse.settings uses for "kept".
std::string RetentionText(std::chrono::milliseconds d);

}  // namespace pulse::sink

#endif  // PULSE_SINK_SCHEMA_H_
