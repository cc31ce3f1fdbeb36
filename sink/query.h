// The dashboard questions of DESIGN.md answered from the rollup tables:
// what `pulse query` prints and what `pulse reconcile` compares with the
// raw table.
//
// RunQuery calls the SQL function of a question (pulse.collection_activity
// and the others, schemas/migrations/002_functions.sql) and returns its
// rows as text. Where the database has no hll extension, those functions
// return NULL unique counts; RunQuery then reads the sketches of the same
// segments (pulse.range_segments) and merges them with common/hll.h, so
// the answer is the same either way.
//
// Values keep PostgreSQL's text form, except times, which are RFC 3339 UTC
// with milliseconds. One thread per connection, as for PgConn.

#ifndef PULSE_SINK_QUERY_H_
#define PULSE_SINK_QUERY_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/pg.h"
#include "common/status.h"
#include "common/time_util.h"
#include "sink/schema.h"

namespace pulse::sink {

enum class Question {
  kCollections,  // pulse.collection_activity
  kActions,      // pulse.action_timeseries
  kIps,          // pulse.suspicious_ips
  kUsers,        // pulse.user_engagement
  kUniqueUsers,  // pulse.unique_users
  kFreshness,    // pulse.freshness
};

// "collections", "actions", "ips", "users", "unique-users", "freshness".
std::string_view QuestionName(Question q);
std::optional<Question> ParseQuestion(std::string_view name);
// Every name ParseQuestion accepts, for help texts and CLI checks.
const std::vector<std::string>& QuestionNames();

struct QueryOptions {
  Question question = Question::kCollections;
  EventTimeMs since = 0;             // inclusive; floored to the minute by SQL
  EventTimeMs until = 0;             // exclusive
  std::string granularity = "hour";  // kActions: minute, hour or day
  int64_t min_actions = 100;         // kIps
  std::optional<std::string> collection;  // kUniqueUsers; all when absent
  int64_t limit = 0;                      // rows at most; 0 for all
};

enum class ColumnType { kText, kInt, kTime, kInterval };

struct QueryTable {
  std::vector<std::string> columns;  // the SQL function's column names
  std::vector<ColumnType> types;
  std::vector<std::vector<std::optional<std::string>>> rows;  // NULL: nullopt
  // What PostgreSQL said about the answer (coarser resolution, ...).
  std::vector<std::string> notices;
};

// Readers' session settings: UTC times in ISO form (so values parse the
// same whatever the server's defaults), read-only transactions, and a
// statement timeout (zero leaves the server's).
[[nodiscard]] Status PrepareReadSession(PgConn& conn,
                                        std::chrono::milliseconds timeout);

// Answers one question. `schema` comes from CheckSchema and tells whether
// unique counts come from SQL or from merging sketches here.
[[nodiscard]] Result<QueryTable> RunQuery(PgConn& conn,
                                          const SchemaInfo& schema,
                                          const QueryOptions& o);

// An aligned plain-text table with a header line.
std::string FormatTable(const QueryTable& t);
// A JSON array with one object per row, keyed by column name; integers as
// numbers, NULL as null.
std::string FormatJson(const QueryTable& t);

}  // namespace pulse::sink

#endif  // PULSE_SINK_QUERY_H_
