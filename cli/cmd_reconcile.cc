// `pulse reconcile`: compares the rollups with the raw activity table over
// a range, day by day, and prints every difference and a summary line.
// Exit status 0 when everything agrees, 1 when anything differs (or the
// run failed). Read-only on both databases; see sink/reconcile.h.

#include <fmt/format.h>

#include "cli/command.h"
#include "common/log.h"
#include "common/time_util.h"
#include "sink/query.h"
#include "sink/reconcile.h"
#include "sink/schema.h"

namespace pulse::cli {

namespace {

struct ReconcileFlags {
  CommonFlags common;
  std::string since;
  std::string until;
  bool json = false;
  std::string statement_timeout = "60s";
};

Result<EventTimeMs> Time(std::string_view flag, const std::string& text) {
  std::optional<EventTimeMs> t = ParseTimestamp(text);
  if (!t) {
    return Status::InvalidArgument(fmt::format(
        "{} {}: expected an RFC 3339 time such as 2026-03-01T00:00:00Z", flag,
        text));
  }
  return *t;
}

// Returns the exit code: 0 clean, 1 differences, else the failure's code.
int Run(const ReconcileFlags& f) {
  auto config = LoadConfig(f.common);
  if (!config.ok()) {
    return Fail("reconcile", config.status());
  }

  // Options, each error naming its flag.
  sink::ReconcileOptions o;
  o.table = config->GetString("ingest.table");
  auto since = Time("--since", f.since);
  auto until = Time("--until", f.until);
  auto timeout = ParseDuration(f.statement_timeout);
  if (!since.ok() || !until.ok()) {
    return Fail("reconcile", since.ok() ? until.status() : since.status());
  }
  if (!timeout) {
    return Fail("reconcile",
                Status::InvalidArgument(fmt::format(
                    "--statement-timeout {}: expected a duration such as 60s",
                    f.statement_timeout)));
  }
  o.since = *since;
  o.until = *until;
  o.statement_timeout = *timeout;

  // The raw table (source.url) and the rollups (target.url, else source).
  auto source =
      PgConn::Connect(config->GetString("source.url"), "pulse-reconcile");
  if (!source.ok()) {
    return Fail("reconcile", source.status().WithContext("source.url"));
  }
  auto target = PgConn::Connect(sink::TargetUrl(*config), "pulse-reconcile");
  if (!target.ok()) {
    return Fail("reconcile", target.status().WithContext("target.url"));
  }
  Status st = sink::PrepareReadSession(*target, o.statement_timeout);
  auto schema =
      st.ok() ? sink::CheckSchema(*target) : Result<sink::SchemaInfo>(st);
  if (!schema.ok()) {
    return Fail("reconcile", schema.status());
  }

  // Compare, then print every difference and the summary.
  auto report = sink::Reconcile(*source, *target, *schema, o);
  if (!report.ok()) {
    return Fail("reconcile", report.status());
  }
  Logger log("reconcile");
  for (const std::string& n : report->notices) {
    log.Warn("notice", {{"message", n}});
  }
  std::string out = f.json ? sink::FormatReconcileJson(*report, o)
                           : sink::FormatReconcileText(*report, o);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  log.Info("reconcile_done",
           {{"days", report->days},
            {"values_compared", report->values_compared},
            {"mismatches", static_cast<int64_t>(report->mismatches.size())}});
  return report->mismatches.empty() ? 0 : 1;
}

}  // namespace

void RegisterReconcile(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<ReconcileFlags>();
  CLI::App* cmd = app.add_subcommand(
      "reconcile",
      "Compare the rollups with the raw activity table (source.url, "
      "ingest.table) over a range, day by day; list every difference. "
      "Exits 1 when anything differs. Read-only.");
  AddCommonFlags(*cmd, flags->common);
  cmd->add_option("--since", flags->since,
                  "start of the range, RFC 3339, inclusive")
      ->required();
  cmd->add_option("--until", flags->until,
                  "end of the range, RFC 3339, exclusive")
      ->required();
  cmd->add_flag("--json", flags->json, "print the report as JSON");
  cmd->add_option("--statement-timeout", flags->statement_timeout,
                  "statement_timeout of every query (default 60s)");
  cmd->callback([flags, &exit_code] { exit_code = Run(*flags); });
}

}  // namespace pulse::cli
