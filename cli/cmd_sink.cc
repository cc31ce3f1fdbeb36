// `pulse sink`: rollups into the pulse tables.

#include "cli/command.h"
#include "sink/sink.h"

namespace pulse::cli {

void RegisterSink(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<CommonFlags>();
  CLI::App* cmd = app.add_subcommand(
      "sink",
      "Apply the rollups topic to the pulse tables of the analytics "
      "database (creating and migrating the schema first)");
  AddCommonFlags(*cmd, *flags);
  cmd->callback([flags, &exit_code] {
    auto config = LoadConfig(*flags);
    if (!config.ok()) {
      exit_code = Fail("sink", config.status());
      return;
    }
    auto options = sink::SinkOptionsFromConfig(*config);
    if (!options.ok()) {
      exit_code = Fail("sink", options.status());
      return;
    }
    auto http = StartHttp(*config);
    if (!http.ok()) {
      exit_code = Fail("sink", http.status());
      return;
    }
    Status st = sink::RunSink(*options);
    exit_code = st.ok() ? 0 : Fail("sink", st);
  });
}

}  // namespace pulse::cli
