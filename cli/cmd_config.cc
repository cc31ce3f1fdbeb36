// `pulse config`: the effective configuration, or the full reference.

#include <cstdio>

#include "cli/command.h"

namespace pulse::cli {

void RegisterConfig(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<CommonFlags>();
  auto reference = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "config",
      "Print the effective configuration (secrets redacted) with where each "
      "value came from, or --reference for every key");
  AddCommonFlags(*cmd, *flags);
  cmd->add_flag("--reference", *reference,
                "print every key, its environment variable and default as "
                "a Markdown table");
  cmd->callback([flags, reference, &exit_code] {
    if (*reference) {
      std::fputs(Config::Reference().c_str(), stdout);
      return;
    }
    auto config = LoadConfig(*flags);
    if (!config.ok()) {
      exit_code = Fail("config", config.status());
      return;
    }
    std::fputs(config->Describe().c_str(), stdout);
  });
}

}  // namespace pulse::cli
