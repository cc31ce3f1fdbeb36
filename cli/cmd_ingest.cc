#include "cli/command.h"

namespace pulse::cli {
void RegisterIngest(CLI::App& app, int& exit_code) {}
}  // namespace pulse::cli
