#include "sink/upsert_sql.h"

#include <fmt/format.h>

namespace pulse::sink {

KindColumns ColumnsOf(Kind k) {
  switch (k) {
    case Kind::kCollection:
      return {"collection", "collection", "users", "unique_users"};
    case Kind::kUser:
      return {"user", "user_id", "collections", "collections_count"};
    case Kind::kIp:
      return {"ip", "ip", "collections", "collections_count"};
  }
  return {"collection", "collection", "users", "unique_users"};
}

std::string UpsertSql(const SchemaInfo& schema) {
  std::string hll = schema.hll_schema;
  std::string type = schema.hll ? hll + ".hll" : "bytea";
  std::string sql;
  for (Grain g : kAllGrains) {
    std::string grain(GrainName(g));
    sql += fmt::format(
        "INSERT INTO pulse.activity_{0} AS t (bucket, collection, action, "
        "activity_count) SELECT bucket, collection, action, n FROM "
        "pulse_s_activity WHERE grain = '{0}' ON CONFLICT (bucket, "
        "collection, action) DO UPDATE SET activity_count = "
        "t.activity_count + excluded.activity_count, updated_at = now();\n",
        grain);
    for (Kind k : kKinds) {
      KindColumns c = ColumnsOf(k);
      bool ip = k == Kind::kIp;
      std::string sketch =
          schema.hll
              ? fmt::format("{0}.hll_union(t.{1}, excluded.{1})", hll, c.sketch)
              : fmt::format("excluded.{}", c.sketch);
      std::string estimate =
          schema.hll ? fmt::format("round({}.hll_cardinality({}))::bigint", hll,
                                   sketch)
                     : fmt::format("excluded.{}", c.estimate);
      // Bitmaps of user and IP rows: OR the delta's in, where the
      // database unions sketches; without the extension the staged
      // sketch, and so its bitmap, already is the whole union.
      bool bitmap = k != Kind::kCollection;
      std::string bits_column = bitmap ? ", collections_bits" : "";
      std::string bits_value = bitmap ? ", bits::bit(256)" : "";
      std::string bits_update;
      if (bitmap) {
        bits_update = schema.hll ? ", collections_bits = t.collections_bits "
                                   "| excluded.collections_bits"
                                 : ", collections_bits = "
                                   "excluded.collections_bits";
      }
      sql += fmt::format(
          "INSERT INTO pulse.{0}_{1} AS t (bucket, {2}, activity_count, "
          "{4}{3}, {5}{12}) SELECT bucket, name, n, {6}estimate, "
          "sketch::{7}{13} FROM pulse_s_sketch WHERE kind = '{8}' AND "
          "grain = '{1}' ON CONFLICT (bucket, {2}) DO UPDATE SET "
          "activity_count = t.activity_count + excluded.activity_count, "
          "{3} = {10}, {5} = {11}{9}{14}, updated_at = now();\n",
          c.table, grain, c.name, c.estimate, ip ? "login_count, " : "",
          c.sketch, ip ? "logins, " : "", type, KindCode(k),
          ip ? ", login_count = t.login_count + excluded.login_count" : "",
          estimate, sketch, bits_column, bits_value, bits_update);
    }
  }
  return sql;
}

}  // namespace pulse::sink
