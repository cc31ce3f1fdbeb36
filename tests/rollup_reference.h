// A reference builder for the rollup tables: fills pulse.activity_*,
// collection_*, user_* and ip_* straight from the raw activity table with
// SQL that follows the definitions of schemas/migrations/001_rollups.sql
// word for word (hll_add_agg with hll(15, 5, -1, 1) of hll_hash_text of
// the user's or collection's text). Tests compare the SQL functions built
// on these tables with the raw queries; what the sink writes must equal
// what this writes. Collections are numbered for the bitmaps in name
// order (pulse.collection_bits), the order migration 004 uses.
//
// Inserts are in bucket order, as a sink appending over time would, so
// measurements on these tables see a realistic physical layout.

#ifndef PULSE_TESTS_ROLLUP_REFERENCE_H_
#define PULSE_TESTS_ROLLUP_REFERENCE_H_

#include <string>

#include "common/pg.h"
#include "common/status.h"

namespace pulse::testing {

struct RollupReferenceOptions {
  std::string table = "public.directus_activity";
  // Schema of the hll extension used to build the sketches, unquoted.
  std::string hll_schema = "public";
  // Store sketches as bytea (databases without the extension: install it
  // elsewhere, e.g. in a scratch schema, just for building).
  bool bytea = false;
  // Fill collections_bits (else NULL everywhere, as rows written before
  // migration 004 are).
  bool bitmaps = true;
};

// Empties the rollup tables and rebuilds them from the raw table.
[[nodiscard]] Status BuildRollupsFromRaw(PgConn& conn,
                                         const RollupReferenceOptions& o);

}  // namespace pulse::testing

#endif  // PULSE_TESTS_ROLLUP_REFERENCE_H_
