#include "cli/command.h"

namespace pulse::cli {
void RegisterGenerate(CLI::App& app, int& exit_code) {}
}  // namespace pulse::cli
