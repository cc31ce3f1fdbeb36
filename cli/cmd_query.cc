// `pulse query`: the dashboard questions answered from the rollups in the
// analytics database (target.url, else source.url), printed as an aligned
// table or, with --json, as a JSON array of objects keyed by the SQL
// function's column names. Notices from PostgreSQL (an answer at a coarser
// resolution than asked, for instance) go to stderr as log lines.

#include <fmt/format.h>

#include "cli/command.h"
#include "common/log.h"
#include "common/time_util.h"
#include "sink/query.h"
#include "sink/schema.h"

namespace pulse::cli {

namespace {

struct QueryFlags {
  CommonFlags common;
  std::string question;
  std::string since;
  std::string until;
  std::string granularity = "hour";
  int64_t min_actions = 100;
  std::string collection;
  bool json = false;
  int64_t limit = 0;
  std::string statement_timeout = "30s";
};

Result<EventTimeMs> Time(std::string_view flag, const std::string& text) {
  if (text.empty()) {
    return Status::InvalidArgument(fmt::format(
        "{} is required: an RFC 3339 time such as 2026-03-01T00:00:00Z", flag));
  }
  std::optional<EventTimeMs> t = ParseTimestamp(text);
  if (!t) {
    return Status::InvalidArgument(fmt::format(
        "{} {}: expected an RFC 3339 time such as 2026-03-01T00:00:00Z", flag,
        text));
  }
  return *t;
}

// Turns the flags into options; names the flag that is wrong.
Result<sink::QueryOptions> Options(const QueryFlags& f) {
  sink::QueryOptions o;
  std::optional<sink::Question> q = sink::ParseQuestion(f.question);
  if (!q) {
    return Status::InvalidArgument(
        fmt::format("unknown question {}: expected one of {}", f.question,
                    fmt::join(sink::QuestionNames(), ", ")));
  }
  o.question = *q;
  if (o.question != sink::Question::kFreshness) {
    PULSE_ASSIGN_OR_RETURN(o.since, Time("--since", f.since));
    PULSE_ASSIGN_OR_RETURN(o.until, Time("--until", f.until));
  }
  o.granularity = f.granularity;
  o.min_actions = f.min_actions;
  if (!f.collection.empty()) {
    o.collection = f.collection;
  }
  o.limit = f.limit;
  return o;
}

Status Query(const QueryFlags& f) {
  PULSE_ASSIGN_OR_RETURN(Config config, LoadConfig(f.common));
  PULSE_ASSIGN_OR_RETURN(sink::QueryOptions o, Options(f));
  std::optional<std::chrono::milliseconds> timeout =
      ParseDuration(f.statement_timeout);
  if (!timeout) {
    return Status::InvalidArgument(
        fmt::format("--statement-timeout {}: expected a duration such as 30s",
                    f.statement_timeout));
  }

  // The analytics database, checked to hold this binary's schema.
  PULSE_ASSIGN_OR_RETURN(
      PgConn conn, PgConn::Connect(sink::TargetUrl(config), "pulse-query"));
  PULSE_RETURN_IF_ERROR(sink::PrepareReadSession(conn, *timeout));
  PULSE_ASSIGN_OR_RETURN(sink::SchemaInfo schema, sink::CheckSchema(conn));

  PULSE_ASSIGN_OR_RETURN(sink::QueryTable table,
                         sink::RunQuery(conn, schema, o));
  Logger log("query");
  for (const std::string& n : table.notices) {
    log.Warn("notice", {{"message", n}});
  }
  std::string out = f.json ? sink::FormatJson(table) : sink::FormatTable(table);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  return Status::Ok();
}

}  // namespace

void RegisterQuery(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<QueryFlags>();
  CLI::App* cmd = app.add_subcommand(
      "query",
      "Answer a dashboard question from the rollups in the analytics "
      "database (target.url, else source.url).");
  AddCommonFlags(*cmd, flags->common);
  cmd->add_option("question", flags->question,
                  fmt::format("{}", fmt::join(sink::QuestionNames(), "|")))
      ->required();
  cmd->add_option("--since", flags->since,
                  "start of the range, RFC 3339, inclusive (floored to the "
                  "minute)");
  cmd->add_option("--until", flags->until,
                  "end of the range, RFC 3339, exclusive");
  cmd->add_option("--granularity", flags->granularity,
                  "actions: bucket size, minute|hour|day (default hour)");
  cmd->add_option("--min-actions", flags->min_actions,
                  "ips: least actions an IP needs to be listed (default 100)");
  cmd->add_option("--collection", flags->collection,
                  "unique-users: count one collection only");
  cmd->add_flag("--json", flags->json,
                "print a JSON array of objects instead of a table");
  cmd->add_option("--limit", flags->limit, "print at most N rows")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--statement-timeout", flags->statement_timeout,
                  "give up on a query after this long (default 30s)");
  cmd->footer(
      "Examples:\n"
      "  pulse query collections --since 2026-03-01T00:00:00Z "
      "--until 2026-03-08T00:00:00Z\n"
      "  pulse query actions --since ... --until ... --granularity minute "
      "--json\n"
      "  pulse query ips --since ... --until ... --min-actions 500\n"
      "  pulse query freshness");
  cmd->callback([flags, &exit_code] {
    Status st = Query(*flags);
    exit_code = st.ok() ? 0 : Fail("query", st);
  });
}

}  // namespace pulse::cli
