#include "tests/rollup_reference.h"

#include <fmt/format.h>

namespace pulse::testing {

namespace {

// {g}: granularity (a constant below), {t}: the quoted raw table, {h}: the
// quoted hll schema, {c}: the cast that stores a sketch as the column type.
constexpr std::string_view kBuildSql = R"sql(
INSERT INTO pulse.activity_{g} (bucket, collection, action, activity_count)
SELECT date_trunc('{g}', "timestamp", 'UTC'), collection, action, count(*)
  FROM {t}
 GROUP BY 1, 2, 3
 ORDER BY 1;

INSERT INTO pulse.collection_{g}
  (bucket, collection, activity_count, unique_users, users)
SELECT b, collection, n, round({h}.hll_cardinality(s)), s{c}
  FROM (SELECT date_trunc('{g}', "timestamp", 'UTC') AS b, collection,
               count(*) AS n,
               coalesce({h}.hll_add_agg({h}.hll_hash_text("user"::text),
                                        15, 5, -1, 1)
                          FILTER (WHERE "user" IS NOT NULL),
                        {h}.hll_empty(15, 5, -1, 1)) AS s
          FROM {t}
         GROUP BY 1, 2) x
 ORDER BY 1;

INSERT INTO pulse.user_{g}
  (bucket, user_id, activity_count, collections_count, collections,
   collections_bits)
SELECT b, u, n, round({h}.hll_cardinality(s)), s{c}, bits
  FROM (SELECT date_trunc('{g}', a."timestamp", 'UTC') AS b,
               a."user"::text AS u, count(*) AS n,
               {h}.hll_add_agg({h}.hll_hash_text(a.collection::text),
                               15, 5, -1, 1) AS s,
               {bits} AS bits
          FROM {t} a
          LEFT JOIN pulse.collection_bits cb ON cb.collection = a.collection
         WHERE a."user" IS NOT NULL
         GROUP BY 1, 2) x
 ORDER BY 1;

INSERT INTO pulse.ip_{g}
  (bucket, ip, activity_count, login_count, collections_count, collections,
   collections_bits)
SELECT b, ip, n, l, round({h}.hll_cardinality(s)), s{c}, bits
  FROM (SELECT date_trunc('{g}', a."timestamp", 'UTC') AS b,
               a.ip::text AS ip, count(*) AS n,
               count(*) FILTER (WHERE a.action = 'login') AS l,
               {h}.hll_add_agg({h}.hll_hash_text(a.collection::text),
                               15, 5, -1, 1) AS s,
               {bits} AS bits
          FROM {t} a
          LEFT JOIN pulse.collection_bits cb ON cb.collection = a.collection
         WHERE a.ip IS NOT NULL
         GROUP BY 1, 2) x
 ORDER BY 1;
)sql";

// The bitmap of a group's collections, as migration 004 defines it: NULL
// when one of them has no number.
constexpr std::string_view kBitsSql =
    "CASE WHEN bool_and(cb.bit IS NOT NULL) THEN bit_or(set_bit("
    "repeat('0', 256)::bit(256), cb.bit, 1)) END";

// Collections numbered in name order, as the migration numbers those
// present when it runs.
constexpr std::string_view kNumberSql = R"sql(
INSERT INTO pulse.collection_bits (bit, collection)
SELECT row_number() OVER (ORDER BY c) - 1, c
  FROM (SELECT DISTINCT collection::text AS c FROM {t}) d
 ORDER BY 1
 LIMIT 256
)sql";

}  // namespace

Status BuildRollupsFromRaw(PgConn& conn, const RollupReferenceOptions& o) {
  PULSE_RETURN_IF_ERROR(conn.Run("BEGIN"));
  Status st = conn.Run(
      "TRUNCATE pulse.activity_minute, pulse.activity_hour, "
      "pulse.activity_day, pulse.collection_minute, pulse.collection_hour, "
      "pulse.collection_day, pulse.user_minute, pulse.user_hour, "
      "pulse.user_day, pulse.ip_minute, pulse.ip_hour, pulse.ip_day, "
      "pulse.collection_bits");
  if (st.ok()) {
    st = conn.Run(
        fmt::format(kNumberSql, fmt::arg("t", conn.QuoteIdent(o.table))));
  }
  for (std::string_view g : {"minute", "hour", "day"}) {
    if (!st.ok()) {
      break;
    }
    st = conn.Run(fmt::format(
        kBuildSql, fmt::arg("g", g), fmt::arg("t", conn.QuoteIdent(o.table)),
        fmt::arg("h", conn.QuoteIdent(o.hll_schema)),
        fmt::arg("c", o.bytea ? "::text::bytea" : ""),
        fmt::arg("bits", o.bitmaps ? kBitsSql : "NULL::bit(256)")));
  }
  if (st.ok()) {
    st = conn.Run("COMMIT; ANALYZE");
  }
  if (!st.ok()) {
    conn.Run("ROLLBACK").IgnoreError();
  }
  return st;
}

}  // namespace pulse::testing
