#include "cli/command.h"

#include <fmt/format.h>

#include "common/log.h"

namespace pulse::cli {

void AddCommonFlags(CLI::App& cmd, CommonFlags& flags) {
  cmd.add_option("--config", flags.config_path,
                 "YAML configuration file (see `pulse config --reference`)");
  cmd.add_option("--set", flags.sets,
                 "override one setting, KEY=VALUE (repeatable)");
}

Result<Config> LoadConfig(const CommonFlags& flags,
                          const std::map<std::string, std::string>& overrides) {
  PULSE_ASSIGN_OR_RETURN(Config config, Config::Load(flags.config_path));
  for (const std::string& kv : flags.sets) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) {
      return Status::InvalidArgument(
          fmt::format("--set {}: expected KEY=VALUE", kv));
    }
    PULSE_RETURN_IF_ERROR(
        config.Set(kv.substr(0, eq), kv.substr(eq + 1)).WithContext("--set"));
  }
  for (const auto& [key, value] : overrides) {
    PULSE_RETURN_IF_ERROR(config.Set(key, value));
  }

  LogLevel level = LogLevel::kInfo;
  LogFormat format = LogFormat::kText;
  ParseLogLevel(config.GetString("log.level"), level);
  ParseLogFormat(config.GetString("log.format"), format);
  ConfigureLogging(level, format);
  return config;
}

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case Status::Code::kOk:
    case Status::Code::kCancelled:
      return 0;
    case Status::Code::kInvalidArgument:
      return 2;
    case Status::Code::kFailedPrecondition:
    case Status::Code::kNotFound:
      return 3;
    default:
      return 1;
  }
}

int Fail(std::string_view command, const Status& status) {
  Logger log(std::string{command});
  log.Error("failed",
            {{"code", CodeName(status.code())}, {"error", status.message()}});
  return ExitCodeFor(status);
}

Result<std::unique_ptr<HttpServer>> StartHttp(
    const Config& config,
    const std::function<void(HttpServer&)>& before_start) {
  auto server = std::make_unique<HttpServer>();
  if (before_start) {
    before_start(*server);
  }
  PULSE_RETURN_IF_ERROR(
      server->Start(config.GetString("http.bind"),
                    static_cast<int>(config.GetInt("http.port"))));
  Logger("http").Info(
      "http_listening",
      {{"bind", config.GetString("http.bind")}, {"port", server->port()}});
  return server;
}

}  // namespace pulse::cli
