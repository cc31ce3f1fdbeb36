// RollupCheck: compares every rollup table with the raw directus_activity
// table, using an independent reference computed in SQL from the raw rows
// (date_trunc buckets, COUNT(*), COUNT(DISTINCT), and hll_add_agg for the
// sketches, which must be byte-identical). Tests call it after a pipeline
// has drained; any mismatch is a row in the report.

#ifndef PULSE_TESTS_HARNESS_ROLLUP_CHECK_H_
#define PULSE_TESTS_HARNESS_ROLLUP_CHECK_H_

#include <string>
#include <vector>

#include "common/pg.h"

namespace pulse::testing {

struct RollupMismatch {
  std::string table;
  std::string key;
  std::string raw;
  std::string rollup;
};

// Every difference between the rollups and the raw table. `raw_table` is
// the activity table; `since` (SQL timestamptz literal, optional) limits
// the comparison to events at or after it. Minute tables are compared only
// inside retention.minute when `minute_retention` is set ('7 days').
std::vector<RollupMismatch> CompareRollups(
    PgConn& conn, const std::string& raw_table = "directus_activity",
    const std::string& minute_retention = "7 days");

// Sum of events applied over all partitions, as recorded by the sink.
int64_t EventsApplied(PgConn& conn);

// Prints up to `limit` mismatches for a failing assertion.
std::string Describe(const std::vector<RollupMismatch>& m, size_t limit = 20);

}  // namespace pulse::testing

#endif  // PULSE_TESTS_HARNESS_ROLLUP_CHECK_H_
