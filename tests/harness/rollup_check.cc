#include "tests/harness/rollup_check.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace pulse::testing {

namespace {

constexpr const char* kSketch = "15, 5, -1, 1";

// One rollup table kind: how to build its reference from raw rows.
struct Spec {
  const char* stem;      // activity, collection, user, ip
  const char* keys_raw;  // raw expressions of the key after the bucket
  const char* keys_t;    // the table's key columns
  const char* where;     // raw rows that count here
  // Pairs of (raw aggregate, table column) that must be equal.
  std::vector<std::pair<std::string, std::string>> values;
};

std::vector<Spec> Specs() {
  auto sketch = [](const char* of) {
    return fmt::format(
        "coalesce(hll_add_agg(hll_hash_text({0}::text), {1}) FILTER (WHERE "
        "{0} IS NOT NULL), hll_empty({1}))::text",
        of, kSketch);
  };
  // The bitmap migration 004 defines, from pulse.collection_bits as the
  // sink left it: NULL when a collection has no number.
  const std::string bits =
      "pg_temp.expected_bits(array_agg(DISTINCT collection::text))::text";
  return {
      {"activity",
       "(collection, action)",
       "(collection, action)",
       "true",
       {{"count(*)", "activity_count"}}},
      {"collection",
       "collection",
       "collection",
       "true",
       {{"count(*)", "activity_count"},
        {"count(DISTINCT \"user\")", "unique_users"},
        {sketch("\"user\""), "users::text"}}},
      {"user",
       "\"user\"::text",
       "user_id",
       "\"user\" IS NOT NULL",
       {{"count(*)", "activity_count"},
        {"count(DISTINCT collection)", "collections_count"},
        {sketch("collection"), "collections::text"},
        {bits, "collections_bits::text"}}},
      {"ip",
       "ip",
       "ip",
       "ip IS NOT NULL",
       {{"count(*)", "activity_count"},
        {"count(*) FILTER (WHERE action = 'login')", "login_count"},
        {"count(DISTINCT collection)", "collections_count"},
        {sketch("collection"), "collections::text"},
        {bits, "collections_bits::text"}}},
  };
}

// The bitmap of a set of collection names (see Specs).
constexpr const char* kExpectedBitsSql = R"sql(
CREATE OR REPLACE FUNCTION pg_temp.expected_bits(names text[])
RETURNS bit(256) LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN count(*) = cardinality(names)
              THEN bit_or(set_bit(repeat('0', 256)::bit(256), cb.bit, 1))
         END
    FROM pulse.collection_bits cb
   WHERE cb.collection = ANY (names)
$$)sql";

}  // namespace

std::vector<RollupMismatch> CompareRollups(
    PgConn& conn, const std::string& raw_table,
    const std::string& minute_retention) {
  std::vector<RollupMismatch> out;
  if (Status st = conn.Run(kExpectedBitsSql); !st.ok()) {
    ADD_FAILURE() << st.ToString();
    return out;
  }
  for (const Spec& s : Specs()) {
    for (const char* grain : {"minute", "hour", "day"}) {
      // Minute buckets exist only inside retention (with an hour's margin
      // for the boundary).
      std::string recent =
          std::string(grain) == "minute" && !minute_retention.empty()
              ? fmt::format("b >= now() - interval '{}' + interval '1 hour'",
                            minute_retention)
              : "true";
      std::vector<std::string> raw_cols, cmp, shown_raw, shown_t;
      for (size_t i = 0; i < s.values.size(); ++i) {
        raw_cols.push_back(fmt::format("{} AS v{}", s.values[i].first, i));
        cmp.push_back(
            fmt::format("r.v{} IS DISTINCT FROM t.{}", i, s.values[i].second));
        shown_raw.push_back(fmt::format("coalesce(r.v{}::text, 'null')", i));
        shown_t.push_back(
            fmt::format("coalesce(t.{}::text, 'null')", s.values[i].second));
      }
      std::string sql = fmt::format(
          "WITH r AS (SELECT date_trunc('{grain}', timestamp, 'UTC') AS b, "
          "{keys_raw} AS k, {cols} FROM {raw} WHERE {where} GROUP BY 1, 2), "
          "t AS (SELECT bucket AS b, ({keys_t})::text AS k, * FROM "
          "pulse.{stem}_{grain}) "
          "SELECT coalesce(r.b, t.b)::text || ' ' || coalesce(r.k::text, "
          "t.k), concat_ws(' ', {shown_raw}), concat_ws(' ', {shown_t}) "
          "FROM r FULL JOIN t ON r.b = t.b AND r.k::text = t.k "
          "WHERE ({recent_r} OR {recent_t}) AND ({cmp}) LIMIT 100",
          fmt::arg("grain", grain), fmt::arg("keys_raw", s.keys_raw),
          fmt::arg("cols", fmt::join(raw_cols, ", ")),
          fmt::arg("raw", raw_table), fmt::arg("where", s.where),
          fmt::arg("keys_t", s.keys_t), fmt::arg("stem", s.stem),
          fmt::arg("shown_raw", fmt::join(shown_raw, ", ")),
          fmt::arg("shown_t", fmt::join(shown_t, ", ")),
          fmt::arg("recent_r", recent == "true" ? recent : "r." + recent),
          fmt::arg("recent_t", recent == "true" ? recent : "t." + recent),
          fmt::arg("cmp", fmt::join(cmp, " OR ")));
      auto r = conn.Exec(sql);
      if (!r.ok()) {
        ADD_FAILURE() << r.status().ToString() << "\n" << sql;
        return out;
      }
      for (int i = 0; i < r->rows(); ++i) {
        out.push_back({fmt::format("{}_{}", s.stem, grain), r->GetString(i, 0),
                       r->GetString(i, 1), r->GetString(i, 2)});
      }
    }
  }
  return out;
}

int64_t EventsApplied(PgConn& conn) {
  auto r = conn.Exec(
      "SELECT coalesce(sum(events_applied), 0) FROM pulse.partition_state");
  return r.ok() ? r->GetInt(0, 0) : -1;
}

std::string Describe(const std::vector<RollupMismatch>& m, size_t limit) {
  std::string out = fmt::format("{} mismatches\n", m.size());
  for (size_t i = 0; i < m.size() && i < limit; ++i) {
    out += fmt::format("  {} [{}] raw=({}) rollup=({})\n", m[i].table, m[i].key,
                       m[i].raw, m[i].rollup);
  }
  return out;
}

}  // namespace pulse::testing
