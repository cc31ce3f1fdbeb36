// `pulse generate history|live`: synthetic Directus activity for demos,
// benchmarks and tests. `history` bulk-loads N rows over D days and exits;
// `live` inserts at a rate until SIGTERM (or --duration), serving
// /metrics, /healthz and /readyz meanwhile. Both print one summary line on
// stdout at the end: `rows=N seconds=S rows_per_s=R`.

#include <fmt/format.h>

#include "cli/command.h"
#include "common/time_util.h"
#include "generate/generate.h"

namespace pulse::cli {

namespace {

// Without --attacker-burst or --attacker-rate, an attacker does this much.
constexpr int64_t kDefaultAttackerBurst = 300;

struct GenerateFlags {
  CommonFlags common;
  std::string url;
  std::string table;
  uint64_t seed = 1;
  uint32_t collections = 40;
  uint32_t users = 2000;
  uint32_t ips = 5000;
  double hostile_fraction = 0;
  bool legacy_comment = false;
  std::string attacker_ip;
  int64_t attacker_burst = -1;  // -1: not given
  std::string attacker_window = "10m";

  // history
  int64_t rows = 0;
  double days = 30;
  std::string end;
  std::string attacker_at;
  int64_t batch_rows = 100'000;

  // live
  double rate = 10;
  std::string duration;
  double attacker_rate = 0;
  std::string attacker_after = "0s";
};

Result<std::chrono::milliseconds> Duration(std::string_view flag,
                                           const std::string& text) {
  auto d = ParseDuration(text);
  if (!d) {
    return Status::InvalidArgument(fmt::format(
        "{} {}: expected a duration such as 500ms, 30s, 10m, 2h", flag, text));
  }
  return *d;
}

Result<EventTimeMs> Time(std::string_view flag, const std::string& text) {
  auto t = ParseTimestamp(text);
  if (!t) {
    return Status::InvalidArgument(fmt::format(
        "{} {}: expected an RFC 3339 time such as 2026-03-01T00:00:00Z", flag,
        text));
  }
  return *t;
}

// Loads the configuration with --url and --table as overrides, and turns
// the shared flags into the target of either mode.
Result<std::pair<Config, generate::TargetOptions>> LoadTarget(
    const GenerateFlags& f) {
  std::map<std::string, std::string> overrides;
  if (!f.url.empty()) {
    overrides["source.url"] = f.url;
  }
  if (!f.table.empty()) {
    overrides["ingest.table"] = f.table;
  }
  PULSE_ASSIGN_OR_RETURN(Config config, LoadConfig(f.common, overrides));

  generate::TargetOptions t;
  t.url = config.GetString("source.url");
  t.table = config.GetString("ingest.table");
  t.legacy_comment = f.legacy_comment;
  t.progress_interval = config.GetDuration("progress_interval");
  t.generator.seed = f.seed;
  t.generator.collections = f.collections;
  t.generator.users = f.users;
  t.generator.ips = f.ips;
  t.generator.hostile_fraction = f.hostile_fraction;
  t.generator.attacker_ip = f.attacker_ip;
  return std::make_pair(std::move(config), std::move(t));
}

void PrintSummary(const generate::GenerateStats& s) {
  fmt::print("rows={} seconds={:.3f} rows_per_s={:.0f}\n", s.rows, s.seconds,
             s.rows_per_second());
  std::fflush(stdout);
}

Status History(const GenerateFlags& f) {
  PULSE_ASSIGN_OR_RETURN(auto loaded, LoadTarget(f));

  // The window ends now unless --end pins it (tests, reproducible demos).
  generate::HistoryOptions o;
  o.target = std::move(loaded.second);
  o.rows = f.rows;
  o.span = std::chrono::milliseconds(
      static_cast<int64_t>(f.days * static_cast<double>(kMsPerDay)));
  o.end = NowMs();
  if (!f.end.empty()) {
    PULSE_ASSIGN_OR_RETURN(o.end, Time("--end", f.end));
  }
  o.batch_rows = f.batch_rows;

  // An attacker ip alone means the default burst.
  if (!f.attacker_ip.empty() || f.attacker_burst > 0) {
    o.attacker_rows =
        f.attacker_burst >= 0 ? f.attacker_burst : kDefaultAttackerBurst;
  }
  PULSE_ASSIGN_OR_RETURN(o.attacker_window,
                         Duration("--attacker-window", f.attacker_window));
  if (!f.attacker_at.empty()) {
    PULSE_ASSIGN_OR_RETURN(o.attacker_start,
                           Time("--attacker-at", f.attacker_at));
  }

  PULSE_ASSIGN_OR_RETURN(generate::GenerateStats stats,
                         generate::WriteHistory(o));
  PrintSummary(stats);
  return Status::Ok();
}

Status Live(const GenerateFlags& f) {
  PULSE_ASSIGN_OR_RETURN(auto loaded, LoadTarget(f));
  generate::LiveOptions o;
  o.target = std::move(loaded.second);
  o.rate = f.rate;
  if (!f.duration.empty()) {
    PULSE_ASSIGN_OR_RETURN(o.duration, Duration("--duration", f.duration));
  }

  // An attacker ip alone means the default burst.
  o.attacker_rate = f.attacker_rate;
  if (f.attacker_burst >= 0) {
    o.attacker_burst = f.attacker_burst;
  } else if (!f.attacker_ip.empty() && f.attacker_rate == 0) {
    o.attacker_burst = kDefaultAttackerBurst;
  }
  PULSE_ASSIGN_OR_RETURN(o.attacker_window,
                         Duration("--attacker-window", f.attacker_window));
  PULSE_ASSIGN_OR_RETURN(o.attacker_after,
                         Duration("--attacker-after", f.attacker_after));

  // Long-running: the endpoints live as long as the loop; bad flags fail
  // before anything listens.
  PULSE_RETURN_IF_ERROR(generate::ValidateLiveOptions(o));
  PULSE_ASSIGN_OR_RETURN(auto http, StartHttp(loaded.first));
  PULSE_ASSIGN_OR_RETURN(generate::GenerateStats stats, generate::RunLive(o));
  PrintSummary(stats);
  return Status::Ok();
}

void AddSharedFlags(CLI::App& cmd, GenerateFlags& f) {
  AddCommonFlags(cmd, f.common);
  cmd.add_option("--url", f.url,
                 "libpq URL of the database (default: source.url, "
                 "PULSE_SOURCE_URL)");
  cmd.add_option("--table", f.table,
                 "activity table, schema-qualified (default: ingest.table)");
  cmd.add_option("--seed", f.seed,
                 "seed; the same seed and flags write the same rows")
      ->capture_default_str();
  cmd.add_option("--collections", f.collections, "number of collections")
      ->capture_default_str();
  cmd.add_option("--users", f.users, "number of users")->capture_default_str();
  cmd.add_option("--ips", f.ips, "number of client addresses")
      ->capture_default_str();
  cmd.add_option("--hostile-fraction", f.hostile_fraction,
                 "share of rows with hostile values (odd ips, 10 KB user "
                 "agents, SQL-looking names, unicode, nulls), 0..1")
      ->capture_default_str();
  cmd.add_flag("--legacy-comment", f.legacy_comment,
               "create the table in the pre-v11 shape, with a comment column");
  cmd.add_option("--attacker-ip", f.attacker_ip,
                 "add an attacker at this address (e.g. 203.0.113.66); "
                 "alone, it means --attacker-burst 300");
  cmd.add_option("--attacker-burst", f.attacker_burst,
                 "attacker rows, spread over --attacker-window");
  cmd.add_option("--attacker-window", f.attacker_window,
                 "how long a burst lasts")
      ->capture_default_str();
}

}  // namespace

void RegisterGenerate(CLI::App& app, int& exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "generate",
      "Write realistic synthetic Directus activity into a database: "
      "`history` bulk-loads past rows, `live` inserts at a rate. Creates the "
      "table when absent.");
  cmd->require_subcommand(1);
  cmd->footer(
      "Examples:\n"
      "  pulse generate history --rows 1000000 --days 30\n"
      "  pulse generate history --rows 50000 --days 7 --end "
      "2026-03-01T00:00:00Z --attacker-ip 203.0.113.66\n"
      "  pulse generate live --rate 200 --hostile-fraction 0.01\n"
      "Run `pulse generate history --help` or `live --help` for all flags.");

  auto h = std::make_shared<GenerateFlags>();
  CLI::App* history = cmd->add_subcommand(
      "history",
      "Write --rows rows spread over --days days ending at --end (or now), "
      "with COPY, then exit.");
  AddSharedFlags(*history, *h);
  history->add_option("--rows", h->rows, "rows to write")
      ->required()
      ->check(CLI::NonNegativeNumber);
  history->add_option("--days", h->days, "length of the window in days")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  history->add_option("--end", h->end,
                      "end of the window, RFC 3339 (default: now)");
  history->add_option("--attacker-at", h->attacker_at,
                      "start of the attacker's burst, RFC 3339 (default: "
                      "two windows before --end)");
  history
      ->add_option("--batch-rows", h->batch_rows, "rows per COPY transaction")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  history->callback([h, &exit_code] {
    Status s = History(*h);
    exit_code = s.ok() ? 0 : Fail("generate", s);
  });

  auto l = std::make_shared<GenerateFlags>();
  CLI::App* live = cmd->add_subcommand(
      "live",
      "Insert rows stamped now at --rate rows/s, in transactions of 1-5 "
      "rows, until SIGTERM or --duration. Reconnects when PostgreSQL "
      "restarts. Serves /metrics, /healthz, /readyz.");
  AddSharedFlags(*live, *l);
  live->add_option("--rate", l->rate, "rows per second (up to 100000)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  live->add_option("--duration", l->duration,
                   "stop after this long, e.g. 90s (default: run until "
                   "SIGTERM)");
  live->add_option("--attacker-rate", l->attacker_rate,
                   "attacker rows per second on top of --rate, steadily");
  live->add_option("--attacker-after", l->attacker_after,
                   "delay before the attacker starts")
      ->capture_default_str();
  live->callback([l, &exit_code] {
    Status s = Live(*l);
    exit_code = s.ok() ? 0 : Fail("generate", s);
  });
}

}  // namespace pulse::cli
