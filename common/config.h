// Config: every setting of every command, from four layers, later wins:
//
//   built-in defaults  <  YAML file (--config)  <  environment  <  flags
//
// Every key is declared once in config_schema.cc with its type, default and
// help text; that table is the configuration reference (`pulse config
// --reference` prints it). A key `a.b_c` is overridden by the environment
// variable `PULSE_A_B_C`. Loading validates everything and names the bad key
// and value: an unknown key in the file is an error (with the closest known
// key suggested), a value of the wrong type is an error.
//
// A Config is immutable after Load() and safe to read from any thread.

#ifndef PULSE_COMMON_CONFIG_H_
#define PULSE_COMMON_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"

namespace pulse {

enum class ConfigType { kString, kInt, kBool, kDuration, kList, kMap, kEnum };

struct ConfigKey {
  std::string_view name;  // "ingest.slot"
  ConfigType type;
  std::string_view fallback;      // default, in the form a user would write it
  std::string_view help;          // one line for the reference
  std::string_view choices = {};  // for kEnum: "initial|never"
  bool secret = false;            // redacted when printed
};

// The schema: every key Pulse knows.
const std::vector<ConfigKey>& ConfigSchema();

// "PULSE_INGEST_SLOT" for "ingest.slot".
std::string EnvNameFor(std::string_view key);

class Config {
 public:
  using Value =
      std::variant<std::string, int64_t, bool, std::chrono::milliseconds,
                   std::vector<std::string>,
                   std::map<std::string, std::string>>;

  // Loads defaults, then `path` (if not empty), then the environment.
  static Result<Config> Load(const std::string& path);
  // Same, with an explicit environment (tests).
  static Result<Config> Load(const std::string& path,
                             const std::map<std::string, std::string>& env);

  // Applies one override given as text, e.g. from a command-line flag.
  Status Set(std::string_view key, std::string_view text);

  const std::string& GetString(std::string_view key) const;
  int64_t GetInt(std::string_view key) const;
  bool GetBool(std::string_view key) const;
  std::chrono::milliseconds GetDuration(std::string_view key) const;
  const std::vector<std::string>& GetList(std::string_view key) const;
  const std::map<std::string, std::string>& GetMap(std::string_view key) const;

  // Where a key's value came from: "default", the file path, or "env".
  const std::string& SourceOf(std::string_view key) const;

  // "key = value  # source" lines, secrets redacted.
  std::string Describe() const;

  // The reference in Markdown: key, env variable, type, default, meaning.
  static std::string Reference();

 private:
  const Value& Get(std::string_view key) const;

  std::map<std::string, Value, std::less<>> values_;
  std::map<std::string, std::string, std::less<>> sources_;
};

// Removes the password from a libpq URL or key=value string for printing.
std::string RedactConnectionString(std::string_view url);

}  // namespace pulse

#endif  // PULSE_COMMON_CONFIG_H_
