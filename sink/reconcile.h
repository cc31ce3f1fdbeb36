// Reconcile: compares what the rollups answer with what the raw activity
// table says, over a range, and lists every difference. `pulse reconcile`
// prints the result; exit status 1 when anything differs.
//
// Safe on a production table: it only reads (READ ONLY transactions on
// both connections, under a statement timeout), one UTC day at a time, so
// each raw query is a bounded range scan of the table's timestamp index.
// Per day, four questions are compared:
//
//   collection_activity   counts exact; unique users exact below 2,560,
//                         else within 2 % (the HyperLogLog guarantee)
//   action_timeseries     hourly counts, exact
//   user_engagement       counts exact; collections as unique users
//   suspicious_ips        with min_actions 1: every IP, counts exact,
//                         collections as unique users
//
// The rollup side goes through RunQuery, so it is exactly what `pulse
// query` answers, including on databases without the hll extension.
// Rows Directus deleted after they were counted (retention, a dropped
// collection) show up as differences: rollups keep counting them.

#ifndef PULSE_SINK_RECONCILE_H_
#define PULSE_SINK_RECONCILE_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/pg.h"
#include "common/status.h"
#include "common/time_util.h"
#include "sink/schema.h"

namespace pulse::sink {

struct ReconcileOptions {
  EventTimeMs since = 0;  // floored to the minute, like the SQL functions
  EventTimeMs until = 0;
  std::string table = "public.directus_activity";  // ingest.table
  std::chrono::milliseconds statement_timeout{60'000};
};

struct Mismatch {
  std::string question;  // "collection_activity", ...
  std::string day;       // "2026-03-01"
  std::string key;       // collection, "bucket action", user or ip
  std::string field;     // "activity_count", "unique_users", ...
  std::string raw;       // the raw table's value; "missing" when absent
  std::string rollup;    // the rollups' value; "missing" when absent
};

struct ReconcileReport {
  int64_t days = 0;
  int64_t values_compared = 0;
  std::vector<Mismatch> mismatches;
  std::vector<std::string> notices;  // from the rollup functions
};

// `source` holds the raw table, `target` the rollups (they may be the same
// database, through two connections). Both sessions are made read-only.
[[nodiscard]] Result<ReconcileReport> Reconcile(PgConn& source, PgConn& target,
                                                const SchemaInfo& schema,
                                                const ReconcileOptions& o);

// An aligned table of mismatches (if any), then one summary line.
std::string FormatReconcileText(const ReconcileReport& r,
                                const ReconcileOptions& o);
// {"since":..., "until":..., "days":..., "values_compared":...,
//  "mismatches":[{question, day, key, field, raw, rollup}, ...]}
std::string FormatReconcileJson(const ReconcileReport& r,
                                const ReconcileOptions& o);

}  // namespace pulse::sink

#endif  // PULSE_SINK_RECONCILE_H_
