// `pulse ingest`: the replication consumer.

#include "cli/command.h"
#include "common/log.h"
#include "ingest/ingest.h"

namespace pulse::cli {

namespace {

struct IngestFlags {
  CommonFlags common;
  bool recreate_slot = false;
  std::string snapshot;
};

int RunIngestCommand(const IngestFlags& f) {
  std::map<std::string, std::string> overrides;
  if (!f.snapshot.empty()) {
    overrides["ingest.snapshot"] = f.snapshot;
  }
  auto config = LoadConfig(f.common, overrides);
  if (!config.ok()) {
    return Fail("ingest", config.status());
  }
  auto options = ingest::IngestOptionsFromConfig(*config, /*embedded=*/false);
  if (!options.ok()) {
    return Fail("ingest", options.status());
  }
  options->recreate_slot = f.recreate_slot;

  auto http = StartHttp(*config);
  if (!http.ok()) {
    return Fail("ingest", http.status());
  }
  Status st = ingest::RunIngest(*options);
  return st.ok() ? 0 : Fail("ingest", st);
}

}  // namespace

void RegisterIngest(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<IngestFlags>();
  CLI::App* cmd = app.add_subcommand(
      "ingest",
      "Stream new directus_activity rows from PostgreSQL logical "
      "replication into the activity topic (snapshot first when the slot "
      "is created)");
  AddCommonFlags(*cmd, flags->common);
  cmd->add_option("--snapshot", flags->snapshot,
                  "initial (copy existing rows when creating the slot) or "
                  "never")
      ->check(CLI::IsMember({"initial", "never"}));
  cmd->add_flag("--recreate-slot", flags->recreate_slot,
                "drop the replication slot and create it again: with "
                "the initial snapshot the table is copied again (rows "
                "already counted count twice); with --snapshot never, "
                "rows written while no slot existed are left out");
  cmd->callback([flags, &exit_code] { exit_code = RunIngestCommand(*flags); });
}

}  // namespace pulse::cli
