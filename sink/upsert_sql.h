// The rollup tables' columns per sketch kind, and the statements that
// upsert the writer's staging tables into them.

#ifndef PULSE_SINK_UPSERT_SQL_H_
#define PULSE_SINK_UPSERT_SQL_H_

#include <string>

#include "sink/delta_set.h"
#include "sink/schema.h"

namespace pulse::sink {

// Each sketch kind's table stem, name column, sketch column and estimate
// column.
struct KindColumns {
  const char* table;
  const char* name;
  const char* sketch;
  const char* estimate;
};
KindColumns ColumnsOf(Kind k);

// One INSERT ... ON CONFLICT per rollup table, from pulse_s_activity and
// pulse_s_sketch: counts add; sketches union (in SQL with the extension;
// without it the staged sketch already is the union) and the estimate
// follows; user and IP bitmaps OR. Depends only on the schema, so the
// writer builds it once.
std::string UpsertSql(const SchemaInfo& schema);

}  // namespace pulse::sink

#endif  // PULSE_SINK_UPSERT_SQL_H_
