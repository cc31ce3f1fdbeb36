// `pulse aggregate`: a member of the aggregator consumer group.

#include "aggregator/aggregator.h"
#include "cli/command.h"

namespace pulse::cli {

void RegisterAggregate(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<CommonFlags>();
  CLI::App* cmd = app.add_subcommand(
      "aggregate",
      "Consume the activity topic as a member of the aggregator group; "
      "publish rollup deltas, alerts and dead letters");
  AddCommonFlags(*cmd, *flags);
  cmd->callback([flags, &exit_code] {
    auto config = LoadConfig(*flags);
    if (!config.ok()) {
      exit_code = Fail("aggregate", config.status());
      return;
    }
    auto options =
        aggregator::AggregatorOptionsFromConfig(*config, /*embedded=*/false);
    if (!options.ok()) {
      exit_code = Fail("aggregate", options.status());
      return;
    }
    auto http = StartHttp(*config);
    if (!http.ok()) {
      exit_code = Fail("aggregate", http.status());
      return;
    }
    Status st = aggregator::RunAggregator(*options);
    exit_code = st.ok() ? 0 : Fail("aggregate", st);
  });
}

}  // namespace pulse::cli
