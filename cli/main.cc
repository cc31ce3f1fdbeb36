// The `pulse` executable: one binary, one subcommand per component.

#include <CLI/CLI.hpp>

#include "cli/command.h"
#include "common/shutdown.h"

int main(int argc, char** argv) {
  pulse::StopSignal::Get().InstallHandlers();

  CLI::App app{
      "Pulse: real-time analytics for Directus activity.\n"
      "Settings come from --config FILE, PULSE_* environment variables and "
      "--set KEY=VALUE; `pulse config --reference` lists them."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "pulse 0.1.0");

  int exit_code = 0;
  pulse::cli::RegisterAggregate(app, exit_code);
  pulse::cli::RegisterBroker(app, exit_code);
  pulse::cli::RegisterConfig(app, exit_code);
  pulse::cli::RegisterGenerate(app, exit_code);
  pulse::cli::RegisterIngest(app, exit_code);
  pulse::cli::RegisterQuery(app, exit_code);
  pulse::cli::RegisterReconcile(app, exit_code);
  pulse::cli::RegisterRun(app, exit_code);
  pulse::cli::RegisterSink(app, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return exit_code;
}
