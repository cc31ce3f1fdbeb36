// What every `pulse` subcommand shares: the --config and --set flags, config
// loading with a clear error, logging setup, the HTTP endpoints of
// long-running commands, and exit codes.
//
// Exit codes: 0 success; 1 runtime failure (a dependency broke, data loss);
// 2 bad usage or configuration; 3 a prerequisite is missing (the message
// says how to fix it).

#ifndef PULSE_CLI_COMMAND_H_
#define PULSE_CLI_COMMAND_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/metrics.h"
#include "common/status.h"

namespace pulse::cli {

struct CommonFlags {
  std::string config_path;
  std::vector<std::string> sets;  // "key=value"
};

// Adds --config and --set to `cmd`.
void AddCommonFlags(CLI::App& cmd, CommonFlags& flags);

// Loads the configuration (defaults, file, environment, --set, then
// `overrides` from command-specific flags) and configures logging.
Result<Config> LoadConfig(
    const CommonFlags& flags,
    const std::map<std::string, std::string>& overrides = {});

int ExitCodeFor(const Status& status);

// Prints a failed status as a final log line and returns its exit code.
int Fail(std::string_view command, const Status& status);

// Starts /metrics, /healthz, /readyz on http.bind:http.port and logs the
// port. Long-running commands hold the returned server until they return.
// `before_start` may register more handlers.
Result<std::unique_ptr<HttpServer>> StartHttp(
    const Config& config,
    const std::function<void(HttpServer&)>& before_start = {});

// A subcommand adds itself to `app`; its callback stores the exit code.
using Registrar = std::function<void(CLI::App& app, int& exit_code)>;

void RegisterAggregate(CLI::App& app, int& exit_code);
void RegisterBroker(CLI::App& app, int& exit_code);
void RegisterConfig(CLI::App& app, int& exit_code);
void RegisterGenerate(CLI::App& app, int& exit_code);
void RegisterIngest(CLI::App& app, int& exit_code);
void RegisterQuery(CLI::App& app, int& exit_code);
void RegisterReconcile(CLI::App& app, int& exit_code);
void RegisterRun(CLI::App& app, int& exit_code);
void RegisterSink(CLI::App& app, int& exit_code);

}  // namespace pulse::cli

#endif  // PULSE_CLI_COMMAND_H_
