#include "sink/query.h"

#include <fmt/format.h>

#include <array>
#include <unordered_map>

#include "common/hll.h"
#include "common/log.h"
#include "sink/notices.h"

namespace pulse::sink {

namespace {

struct Column {
  std::string_view name;
  ColumnType type;
};

// Where a question's unique count lives when SQL cannot merge sketches:
// pulse.<table>_<grain>.<sketch>, merged per <key>.
struct SketchSource {
  std::string_view table;
  std::string_view key;
  std::string_view sketch;
  int column = -1;  // the unique-count column of the answer
};

struct QuestionSpec {
  Question question;
  std::string_view name;
  // Fixed text; every value travels as a parameter ($1 since, $2 until,
  // then the question's own, then the limit).
  std::string_view sql;
  std::vector<Column> columns;
  std::optional<SketchSource> sketches;
};

const std::vector<QuestionSpec>& Specs() {
  using T = ColumnType;
  static const std::vector<QuestionSpec> kSpecs = {
      {Question::kCollections,
       "collections",
       "SELECT collection, activity_count, unique_users "
       "FROM pulse.collection_activity($1::timestamptz, $2::timestamptz) "
       "LIMIT $3::bigint",
       {{"collection", T::kText},
        {"activity_count", T::kInt},
        {"unique_users", T::kInt}},
       SketchSource{"collection", "collection", "users", 2}},
      {Question::kActions,
       "actions",
       "SELECT bucket, action, activity_count "
       "FROM pulse.action_timeseries($1::timestamptz, $2::timestamptz, "
       "$3::text) LIMIT $4::bigint",
       {{"bucket", T::kTime},
        {"action", T::kText},
        {"activity_count", T::kInt}},
       std::nullopt},
      {Question::kIps,
       "ips",
       "SELECT ip, activity_count, collections_accessed "
       "FROM pulse.suspicious_ips($1::timestamptz, $2::timestamptz, "
       "$3::bigint) LIMIT $4::bigint",
       {{"ip", T::kText},
        {"activity_count", T::kInt},
        {"collections_accessed", T::kInt}},
       SketchSource{"ip", "ip", "collections", 2}},
      {Question::kUsers,
       "users",
       "SELECT \"user\", activity_count, collections_accessed "
       "FROM pulse.user_engagement($1::timestamptz, $2::timestamptz) "
       "LIMIT $3::bigint",
       {{"user", T::kText},
        {"activity_count", T::kInt},
        {"collections_accessed", T::kInt}},
       SketchSource{"user", "user_id", "collections", 2}},
      {Question::kUniqueUsers,
       "unique-users",
       "SELECT pulse.unique_users($1::timestamptz, $2::timestamptz, $3::text) "
       "AS unique_users",
       {{"unique_users", T::kInt}},
       SketchSource{"collection", "collection", "users", 0}},
      {Question::kFreshness,
       "freshness",
       "SELECT newest_event_time, lag FROM pulse.freshness()",
       {{"newest_event_time", T::kTime}, {"lag", T::kInterval}},
       std::nullopt},
  };
  return kSpecs;
}

const QuestionSpec& SpecFor(Question q) {
  for (const QuestionSpec& s : Specs()) {
    if (s.question == q) {
      return s;
    }
  }
  return Specs().front();  // unreachable: every Question has a spec
}

// The parameters of a question's SQL, in the order its text numbers them.
PgParams ParamsFor(const QueryOptions& o) {
  PgParams p = {FormatRfc3339Ms(o.since), FormatRfc3339Ms(o.until)};
  std::optional<std::string> limit;
  if (o.limit > 0) {
    limit = std::to_string(o.limit);  // LIMIT NULL means no limit
  }
  switch (o.question) {
    case Question::kActions:
      p.push_back(o.granularity);
      p.push_back(limit);
      break;
    case Question::kIps:
      p.push_back(std::to_string(o.min_actions));
      p.push_back(limit);
      break;
    case Question::kUniqueUsers:
      p.push_back(o.collection);
      break;
    case Question::kFreshness:
      p.clear();
      break;
    default:
      p.push_back(limit);
      break;
  }
  return p;
}

// The segment tables' suffix for a grain pulse.range_segments returned;
// a constant, so no text from the database reaches the SQL.
std::optional<std::string_view> GrainSuffix(std::string_view grain) {
  static constexpr std::array<std::string_view, 3> kGrains = {"minute", "hour",
                                                              "day"};
  for (std::string_view g : kGrains) {
    if (g == grain) {
      return g;
    }
  }
  return std::nullopt;
}

// Merges one sketch read from the database into `into`.
Status MergeSketch(std::string_view text, std::string_view where, Hll& into) {
  std::optional<std::string> bytes = ParseByteaHex(text);
  if (!bytes) {
    return Status::DataLoss(fmt::format("{}: sketch is not bytea hex", where));
  }
  Result<Hll> h = Hll::Deserialize(*bytes);
  if (!h.ok()) {
    return h.status().WithContext(where);
  }
  return into.Merge(*h).WithContext(where);
}

// Fills the unique counts SQL left NULL from sketches merged here, for
// databases without the hll extension (collection counts of keys with
// bitmaps are answered in SQL already). Reads the same segments the SQL
// function read.
Status FillUniquesFromSketches(PgConn& conn, const QuestionSpec& spec,
                               const QueryOptions& o, QueryTable& t) {
  const SketchSource& src = *spec.sketches;
  const bool keyed = o.question != Question::kUniqueUsers;
  bool any_null = false;
  for (const auto& row : t.rows) {
    any_null = any_null || !row[src.column];
  }
  if (!any_null) {
    return Status::Ok();
  }

  // The segments: the same rule, the same notices (dropped as duplicates).
  PULSE_ASSIGN_OR_RETURN(
      PgResult segs,
      conn.Exec("SELECT grain, seg_start, seg_end FROM pulse.range_segments("
                "$1::timestamptz, $2::timestamptz, 'day', 'pulse query', "
                "false)",
                {FormatRfc3339Ms(o.since), FormatRfc3339Ms(o.until)}));

  // Merge every sketch of every segment per key (or all into one).
  std::unordered_map<std::string, Hll> per_key;
  Hll all(kUserSketchParams);
  for (int i = 0; i < segs.rows(); ++i) {
    std::optional<std::string_view> grain = GrainSuffix(segs.Get(i, 0));
    if (!grain) {
      return Status::Internal(
          fmt::format("pulse.range_segments returned an unknown grain '{}'",
                      segs.Get(i, 0)));
    }
    std::string table = fmt::format("pulse.{}_{}", src.table, *grain);
    std::string sql =
        fmt::format("SELECT {}, {} FROM {} WHERE bucket >= $1 AND bucket < $2",
                    src.key, src.sketch, table);
    PgParams params = {segs.GetString(i, 1), segs.GetString(i, 2)};
    if (!keyed && o.collection) {
      sql += " AND collection = $3";
      params.push_back(o.collection);
    }
    PULSE_ASSIGN_OR_RETURN(PgResult rows, conn.Exec(sql, params));
    for (int r = 0; r < rows.rows(); ++r) {
      Hll* into = &all;
      if (keyed) {
        into = &per_key.try_emplace(rows.GetString(r, 0), kUserSketchParams)
                    .first->second;
      }
      PULSE_RETURN_IF_ERROR(MergeSketch(rows.Get(r, 1), table, *into));
    }
  }

  // Estimates replace the NULLs the SQL function returned.
  for (auto& row : t.rows) {
    if (row[src.column]) {
      continue;
    }
    uint64_t estimate = all.Estimate();
    if (keyed) {
      auto it = row[0] ? per_key.find(*row[0]) : per_key.end();
      estimate = it == per_key.end() ? 0 : it->second.Estimate();
    }
    row[src.column] = std::to_string(estimate);
  }
  return Status::Ok();
}

}  // namespace

std::string_view QuestionName(Question q) { return SpecFor(q).name; }

std::optional<Question> ParseQuestion(std::string_view name) {
  for (const QuestionSpec& s : Specs()) {
    if (s.name == name) {
      return s.question;
    }
  }
  return std::nullopt;
}

const std::vector<std::string>& QuestionNames() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (const QuestionSpec& s : Specs()) {
      names.emplace_back(s.name);
    }
    return names;
  }();
  return kNames;
}

Status PrepareReadSession(PgConn& conn, std::chrono::milliseconds timeout) {
  PULSE_RETURN_IF_ERROR(
      conn.Run("SET TIME ZONE 'UTC'; SET datestyle = 'ISO'; "
               "SET intervalstyle = 'postgres'; "
               "SET default_transaction_read_only = on"));
  if (timeout.count() > 0) {
    PULSE_RETURN_IF_ERROR(
        conn.Exec("SELECT set_config('statement_timeout', $1, false)",
                  {std::to_string(timeout.count())})
            .status());
  }
  return Status::Ok();
}

Result<QueryTable> RunQuery(PgConn& conn, const SchemaInfo& schema,
                            const QueryOptions& o) {
  const QuestionSpec& spec = SpecFor(o.question);
  NoticeCollector notices(conn);

  // The SQL function answers; its notices explain coarser answers.
  PULSE_ASSIGN_OR_RETURN(PgResult r, conn.Exec(spec.sql, ParamsFor(o)));
  QueryTable t;
  for (const Column& c : spec.columns) {
    t.columns.emplace_back(c.name);
    t.types.push_back(c.type);
  }
  for (int i = 0; i < r.rows(); ++i) {
    std::vector<std::optional<std::string>> row;
    for (int c = 0; c < static_cast<int>(spec.columns.size()); ++c) {
      if (r.IsNull(i, c)) {
        row.emplace_back(std::nullopt);
        continue;
      }
      std::string value = r.GetString(i, c);
      // Times print as the activity topic does, whatever the session said.
      if (spec.columns[c].type == ColumnType::kTime) {
        if (std::optional<EventTimeMs> ms = ParseTimestamp(value)) {
          value = FormatRfc3339Ms(*ms);
        }
      }
      row.emplace_back(std::move(value));
    }
    t.rows.push_back(std::move(row));
  }

  // Without the extension, SQL returned NULL unique counts: merge here.
  if (!schema.hll && spec.sketches) {
    PULSE_RETURN_IF_ERROR(FillUniquesFromSketches(conn, spec, o, t));
  }

  // The bytea notice is answered above; the others are the caller's.
  for (std::string& n : notices.Take()) {
    bool answered = !schema.hll && spec.sketches &&
                    n.find("need the hll extension") != std::string::npos;
    if (!answered) {
      t.notices.push_back(std::move(n));
    }
  }
  Logger("query").Debug("query_answered",
                        {{"question", spec.name},
                         {"rows", static_cast<int64_t>(t.rows.size())},
                         {"sketches", schema.hll ? "sql" : "merged_here"}});
  return t;
}

}  // namespace pulse::sink
