#include "sink/reconcile.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <map>
#include <optional>

#include "common/json_writer.h"
#include "common/log.h"
#include "sink/query.h"

namespace pulse::sink {

namespace {

// Unique counts below this are exact in a sketch (explicit storage);
// above it the HyperLogLog guarantee is kTolerance.
constexpr int64_t kExactBelow = 2560;
constexpr double kTolerance = 0.02;

using Row = std::vector<std::optional<std::string>>;
using Values = std::map<std::string, Row>;  // key -> the value columns

// One question compared: the raw SQL and how its rows line up with the
// rollup answer. Raw SQL gets the quoted table name; $1 and $2 are the
// range.
struct Check {
  std::string_view question;
  Question rollup;
  std::string_view raw_sql;
  int key_columns;
  bool time_key;  // the first key column is a time (normalised to compare)
  std::vector<std::string_view> fields;
  int unique_field;  // index into fields of a unique count, or -1
};

const std::vector<Check>& Checks() {
  static const std::vector<Check> kChecks = {
      {"collection_activity",
       Question::kCollections,
       "SELECT collection::text, count(*), count(DISTINCT \"user\") "
       "FROM {} WHERE \"timestamp\" >= $1 AND \"timestamp\" < $2 "
       "GROUP BY 1",
       1,
       false,
       {"activity_count", "unique_users"},
       1},
      {"action_timeseries",
       Question::kActions,
       "SELECT date_trunc('hour', \"timestamp\", 'UTC'), action::text, "
       "count(*) FROM {} WHERE \"timestamp\" >= $1 AND \"timestamp\" < $2 "
       "GROUP BY 1, 2",
       2,
       true,
       {"activity_count"},
       -1},
      {"user_engagement",
       Question::kUsers,
       "SELECT \"user\"::text, count(*), count(DISTINCT collection) "
       "FROM {} WHERE \"timestamp\" >= $1 AND \"timestamp\" < $2 "
       "AND \"user\" IS NOT NULL GROUP BY 1",
       1,
       false,
       {"activity_count", "collections_accessed"},
       1},
      {"suspicious_ips",
       Question::kIps,
       "SELECT ip::text, count(*), count(DISTINCT collection) "
       "FROM {} WHERE \"timestamp\" >= $1 AND \"timestamp\" < $2 "
       "AND ip IS NOT NULL GROUP BY 1",
       1,
       false,
       {"activity_count", "collections_accessed"},
       1},
  };
  return kChecks;
}

// Splits rows into key (the first `key_columns`, space-joined) and values.
void AddRow(const Check& c, Row row, Values& out) {
  std::string key;
  for (int k = 0; k < c.key_columns; ++k) {
    if (k > 0) {
      key += ' ';
    }
    std::string part = row[k] ? *row[k] : "NULL";
    // Both sides print a time key the same way (RFC 3339, UTC).
    if (k == 0 && c.time_key) {
      if (std::optional<EventTimeMs> t = ParseTimestamp(part)) {
        part = FormatRfc3339Ms(*t);
      }
    }
    key += part;
  }
  out[key] = Row(row.begin() + c.key_columns, row.end());
}

std::optional<int64_t> ToInt(const std::optional<std::string>& v) {
  int64_t n = 0;
  if (!v) {
    return std::nullopt;
  }
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size()) {
    return std::nullopt;
  }
  return n;
}

// Whether a rollup value is acceptable for a raw value: equal, or for a
// unique count above the exact range, within the tolerance.
bool Agrees(const std::optional<std::string>& raw,
            const std::optional<std::string>& rollup, bool unique) {
  if (raw == rollup) {
    return true;
  }
  std::optional<int64_t> r = ToInt(raw);
  std::optional<int64_t> u = ToInt(rollup);
  if (!unique || !r || !u || *r < kExactBelow) {
    return false;
  }
  return std::llabs(*u - *r) <= kTolerance * static_cast<double>(*r);
}

// Compares one question's two answers for a day; returns values compared.
int64_t Compare(const Check& c, const std::string& day, const Values& raw,
                const Values& rollup, std::vector<Mismatch>& out) {
  int64_t compared = 0;
  auto text = [](const std::optional<std::string>& v) {
    return v ? *v : std::string("NULL");
  };
  auto report = [&](const std::string& key, size_t f, std::string r,
                    std::string u) {
    out.push_back({std::string(c.question), day, key, std::string(c.fields[f]),
                   std::move(r), std::move(u)});
  };

  // Every raw key must be in the rollups with agreeing values.
  for (const auto& [key, values] : raw) {
    auto it = rollup.find(key);
    for (size_t f = 0; f < c.fields.size(); ++f) {
      ++compared;
      if (it == rollup.end()) {
        report(key, f, text(values[f]), "missing");
        continue;
      }
      bool unique = static_cast<int>(f) == c.unique_field;
      if (!Agrees(values[f], it->second[f], unique)) {
        report(key, f, text(values[f]), text(it->second[f]));
      }
    }
  }

  // And the rollups must not know keys the raw table lacks.
  for (const auto& [key, values] : rollup) {
    if (raw.count(key) == 0) {
      ++compared;
      report(key, 0, "missing", text(values[0]));
    }
  }
  return compared;
}

// Reads the raw side of one check.
Result<Values> RawValues(PgConn& source, const Check& c,
                         const std::string& table, const PgParams& range) {
  PULSE_ASSIGN_OR_RETURN(
      PgResult r,
      source.Exec(fmt::format(fmt::runtime(c.raw_sql), table), range));
  Values out;
  for (int i = 0; i < r.rows(); ++i) {
    Row row;
    for (int col = 0; col < r.columns(); ++col) {
      row.push_back(r.IsNull(i, col) ? std::nullopt
                                     : std::optional(r.GetString(i, col)));
    }
    AddRow(c, std::move(row), out);
  }
  return out;
}

// Reads the rollup side of one check, as `pulse query` would answer it.
Result<Values> RollupValues(PgConn& target, const SchemaInfo& schema,
                            const Check& c, EventTimeMs lo, EventTimeMs hi,
                            std::vector<std::string>& notices) {
  QueryOptions q;
  q.question = c.rollup;
  q.since = lo;
  q.until = hi;
  q.granularity = "hour";
  q.min_actions = 1;
  PULSE_ASSIGN_OR_RETURN(QueryTable t, RunQuery(target, schema, q));
  for (std::string& n : t.notices) {
    if (std::find(notices.begin(), notices.end(), n) == notices.end()) {
      notices.push_back(std::move(n));
    }
  }
  Values out;
  for (Row& row : t.rows) {
    AddRow(c, std::move(row), out);
  }
  return out;
}

// One day (or the part of it inside the range), in one read-only snapshot
// per side so the four questions see the same data.
Status ReconcileDay(PgConn& source, PgConn& target, const SchemaInfo& schema,
                    const std::string& table, EventTimeMs lo, EventTimeMs hi,
                    ReconcileReport& report) {
  const std::string day = FormatRfc3339Ms(lo).substr(0, 10);
  const PgParams range = {FormatRfc3339Ms(lo), FormatRfc3339Ms(hi)};
  constexpr std::string_view kBegin =
      "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
  PULSE_RETURN_IF_ERROR(source.Run(kBegin));
  Status st = target.Run(kBegin);

  for (const Check& c : Checks()) {
    if (!st.ok()) {
      break;
    }
    Result<Values> raw = RawValues(source, c, table, range);
    if (!raw.ok()) {
      st = raw.status().WithContext(fmt::format("raw {}", c.question));
      break;
    }
    Result<Values> rollup =
        RollupValues(target, schema, c, lo, hi, report.notices);
    if (!rollup.ok()) {
      st = rollup.status().WithContext(fmt::format("rollup {}", c.question));
      break;
    }
    report.values_compared += Compare(c, day, *raw, *rollup, report.mismatches);
  }

  // Nothing was written; ending the snapshots is all that is left.
  source.Run("ROLLBACK").IgnoreError();
  target.Run("ROLLBACK").IgnoreError();
  return st.WithContext(fmt::format("reconciling {}", day));
}

// Warns when the range reaches past what the rollups have applied:
// differences there are lag, not loss.
void WarnIfPastFreshness(PgConn& target, const SchemaInfo& schema,
                         EventTimeMs until, const Logger& log) {
  QueryOptions q;
  q.question = Question::kFreshness;
  Result<QueryTable> t = RunQuery(target, schema, q);
  if (!t.ok() || t->rows.empty() || !t->rows[0][0]) {
    return;
  }
  std::optional<EventTimeMs> newest = ParseTimestamp(*t->rows[0][0]);
  if (newest && *newest < until) {
    log.Warn("range_past_freshness",
             {{"newest_event_time", *t->rows[0][0]},
              {"until", FormatRfc3339Ms(until)},
              {"effect",
               "events after the newest applied one are not in "
               "the rollups yet and show as differences"}});
  }
}

}  // namespace

Result<ReconcileReport> Reconcile(PgConn& source, PgConn& target,
                                  const SchemaInfo& schema,
                                  const ReconcileOptions& o) {
  Logger log("reconcile");
  const EventTimeMs since = FloorTo(o.since, kMsPerMinute);
  const EventTimeMs until = FloorTo(o.until, kMsPerMinute);
  if (until <= since) {
    return Status::InvalidArgument(fmt::format(
        "--until {} is not after --since {} (both floored to the minute)",
        FormatRfc3339Ms(o.until), FormatRfc3339Ms(o.since)));
  }

  // Both sides only read, politely.
  PULSE_RETURN_IF_ERROR(PrepareReadSession(source, o.statement_timeout)
                            .WithContext("source database"));
  PULSE_RETURN_IF_ERROR(PrepareReadSession(target, o.statement_timeout)
                            .WithContext("analytics database"));
  const std::string table = source.QuoteIdent(o.table);
  WarnIfPastFreshness(target, schema, until, log);

  // Day by day: each raw query is one day's range scan at most.
  ReconcileReport report;
  for (EventTimeMs day = FloorTo(since, kMsPerDay); day < until;
       day += kMsPerDay) {
    const EventTimeMs lo = std::max(since, day);
    const EventTimeMs hi = std::min(until, day + kMsPerDay);
    const size_t before = report.mismatches.size();
    PULSE_RETURN_IF_ERROR(
        ReconcileDay(source, target, schema, table, lo, hi, report));
    ++report.days;
    log.Info("day_reconciled",
             {{"day", FormatRfc3339Ms(day).substr(0, 10)},
              {"from", FormatRfc3339Ms(lo)},
              {"until", FormatRfc3339Ms(hi)},
              {"mismatches",
               static_cast<int64_t>(report.mismatches.size() - before)}});
  }
  return report;
}

std::string FormatReconcileText(const ReconcileReport& r,
                                const ReconcileOptions& o) {
  std::string out;
  if (!r.mismatches.empty()) {
    QueryTable t;
    t.columns = {"question", "day", "key", "field", "raw", "rollup"};
    t.types.assign(t.columns.size(), ColumnType::kText);
    for (const Mismatch& m : r.mismatches) {
      t.rows.push_back({m.question, m.day, m.key, m.field, m.raw, m.rollup});
    }
    out += FormatTable(t);
  }
  out += fmt::format(
      "reconcile since={} until={} days={} values_compared={} "
      "mismatches={}\n",
      FormatRfc3339Ms(FloorTo(o.since, kMsPerMinute)),
      FormatRfc3339Ms(FloorTo(o.until, kMsPerMinute)), r.days,
      r.values_compared, r.mismatches.size());
  return out;
}

std::string FormatReconcileJson(const ReconcileReport& r,
                                const ReconcileOptions& o) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("since").String(FormatRfc3339Ms(FloorTo(o.since, kMsPerMinute)));
  w.Key("until").String(FormatRfc3339Ms(FloorTo(o.until, kMsPerMinute)));
  w.Key("days").Int(r.days);
  w.Key("values_compared").Int(r.values_compared);
  w.Key("mismatches").BeginArray();
  for (const Mismatch& m : r.mismatches) {
    w.BeginObject();
    w.Key("question").String(m.question);
    w.Key("day").String(m.day);
    w.Key("key").String(m.key);
    w.Key("field").String(m.field);
    w.Key("raw").String(m.raw);
    w.Key("rollup").String(m.rollup);
    w.EndObject();
  }
  w.EndArray();
  w.Key("notices").BeginArray();
  for (const std::string& n : r.notices) {
    w.String(n);
  }
  w.EndArray();
  w.EndObject();
  out += '\n';
  return out;
}

}  // namespace pulse::sink
