#include "common/config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "common/time_util.h"

extern char** environ;

namespace pulse {

namespace {

const ConfigKey* FindKey(std::string_view name) {
  for (const ConfigKey& k : ConfigSchema()) {
    if (k.name == name) {
      return &k;
    }
  }
  return nullptr;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min(
          {row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string Suggest(std::string_view name) {
  const ConfigKey* best = nullptr;
  size_t best_d = 4;  // suggest only near misses
  for (const ConfigKey& k : ConfigSchema()) {
    size_t d = EditDistance(name, k.name);
    if (d < best_d) {
      best_d = d;
      best = &k;
    }
  }
  return best ? fmt::format(" (did you mean '{}'?)", best->name) : "";
}

std::string_view TypeHint(const ConfigKey& k) {
  switch (k.type) {
    case ConfigType::kString:
      return "a string";
    case ConfigType::kInt:
      return "an integer";
    case ConfigType::kBool:
      return "true or false";
    case ConfigType::kDuration:
      return "a duration such as 500ms, 10s, 5m, 2h or 7d";
    case ConfigType::kList:
      return "a list (YAML sequence, or comma-separated text)";
    case ConfigType::kMap:
      return "a map (YAML mapping, or k=v,k=v text)";
    case ConfigType::kEnum:
      return k.choices;
  }
  return "";
}

std::vector<std::string> SplitCommas(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) {
      comma = text.size();
    }
    std::string_view part = text.substr(start, comma - start);
    while (!part.empty() && part.front() == ' ') {
      part.remove_prefix(1);
    }
    while (!part.empty() && part.back() == ' ') {
      part.remove_suffix(1);
    }
    if (!part.empty()) {
      out.emplace_back(part);
    }
    start = comma + 1;
  }
  return out;
}

// Parses a textual value for `k`; the error names the key and the value.
Result<Config::Value> ParseText(const ConfigKey& k, std::string_view text) {
  auto bad = [&]() {
    return Status::InvalidArgument(fmt::format(
        "{}: '{}' is not valid; expected {}", k.name, text, TypeHint(k)));
  };
  switch (k.type) {
    case ConfigType::kString:
      return Config::Value(std::string(text));
    case ConfigType::kInt: {
      int64_t v = 0;
      auto [end, ec] =
          std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || end != text.data() + text.size()) {
        return bad();
      }
      return Config::Value(v);
    }
    case ConfigType::kBool:
      if (text == "true" || text == "1" || text == "yes") {
        return Config::Value(true);
      }
      if (text == "false" || text == "0" || text == "no") {
        return Config::Value(false);
      }
      return bad();
    case ConfigType::kDuration: {
      auto d = ParseDuration(text);
      if (!d) {
        return bad();
      }
      return Config::Value(*d);
    }
    case ConfigType::kList:
      return Config::Value(SplitCommas(text));
    case ConfigType::kMap: {
      std::map<std::string, std::string> m;
      for (const std::string& item : SplitCommas(text)) {
        size_t eq = item.find('=');
        if (eq == std::string::npos || eq == 0) {
          return bad();
        }
        m[item.substr(0, eq)] = item.substr(eq + 1);
      }
      return Config::Value(std::move(m));
    }
    case ConfigType::kEnum: {
      std::string_view rest = k.choices;
      while (!rest.empty()) {
        size_t bar = rest.find('|');
        if (rest.substr(0, bar) == text) {
          return Config::Value(std::string(text));
        }
        if (bar == std::string_view::npos) {
          break;
        }
        rest.remove_prefix(bar + 1);
      }
      return bad();
    }
  }
  return bad();
}

// Converts a YAML node for `k`; lists and maps come as YAML structures.
Result<Config::Value> ParseNode(const ConfigKey& k, const YAML::Node& node) {
  if (k.type == ConfigType::kList && node.IsSequence()) {
    std::vector<std::string> out;
    for (const auto& item : node) {
      if (!item.IsScalar()) {
        return Status::InvalidArgument(
            fmt::format("{}: every item must be a plain value", k.name));
      }
      out.push_back(item.Scalar());
    }
    return Config::Value(std::move(out));
  }
  if (k.type == ConfigType::kMap && node.IsMap()) {
    std::map<std::string, std::string> out;
    for (const auto& kv : node) {
      if (!kv.second.IsScalar()) {
        return Status::InvalidArgument(fmt::format(
            "{}.{}: must be a plain value", k.name, kv.first.Scalar()));
      }
      out[kv.first.Scalar()] = kv.second.Scalar();
    }
    return Config::Value(std::move(out));
  }
  if (node.IsNull()) {
    return ParseText(k, "");
  }
  if (!node.IsScalar()) {
    return Status::InvalidArgument(
        fmt::format("{}: expected {}, found a YAML {}", k.name, TypeHint(k),
                    node.IsMap() ? "mapping" : "sequence"));
  }
  return ParseText(k, node.Scalar());
}

// Walks nested mappings, turning them into dotted keys.
Status Flatten(const YAML::Node& node, const std::string& prefix,
               const std::string& path,
               std::vector<std::pair<std::string, YAML::Node>>& out) {
  for (const auto& kv : node) {
    std::string name =
        prefix.empty() ? kv.first.Scalar() : prefix + "." + kv.first.Scalar();
    const ConfigKey* k = FindKey(name);
    if (k == nullptr && kv.second.IsMap()) {
      PULSE_RETURN_IF_ERROR(Flatten(kv.second, name, path, out));
      continue;
    }
    if (k == nullptr) {
      return Status::InvalidArgument(fmt::format(
          "{}: unknown key '{}'{}; `pulse config --reference` lists them all",
          path, name, Suggest(name)));
    }
    out.emplace_back(name, kv.second);
  }
  return Status::Ok();
}

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq != std::string_view::npos && kv.substr(0, 6) == "PULSE_") {
      env[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
    }
  }
  return env;
}

std::string FormatValue(const Config::Value& v) {
  struct Visitor {
    std::string operator()(const std::string& s) { return s; }
    std::string operator()(int64_t i) { return std::to_string(i); }
    std::string operator()(bool b) { return b ? "true" : "false"; }
    std::string operator()(std::chrono::milliseconds d) {
      return std::to_string(d.count()) + "ms";
    }
    std::string operator()(const std::vector<std::string>& l) {
      return fmt::format("[{}]", fmt::join(l, ", "));
    }
    std::string operator()(const std::map<std::string, std::string>& m) {
      std::vector<std::string> items;
      for (const auto& [k, val] : m) {
        items.push_back(k + "=" + val);
      }
      return fmt::format("{{{}}}", fmt::join(items, ", "));
    }
  };
  return std::visit(Visitor{}, v);
}

}  // namespace

std::string EnvNameFor(std::string_view key) {
  std::string env = "PULSE_";
  for (char c : key) {
    env.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(c)));
  }
  return env;
}

Result<Config> Config::Load(const std::string& path) {
  return Load(path, ProcessEnvironment());
}

Result<Config> Config::Load(const std::string& path,
                            const std::map<std::string, std::string>& env) {
  Config c;

  // Layer 1: defaults.
  for (const ConfigKey& k : ConfigSchema()) {
    auto v = ParseText(k, k.fallback);
    if (!v.ok()) {
      return Status::Internal("bad default: " + v.status().message());
    }
    c.values_[std::string(k.name)] = std::move(v).value();
    c.sources_[std::string(k.name)] = "default";
  }

  // Layer 2: the YAML file.
  if (!path.empty()) {
    YAML::Node root;
    try {
      root = YAML::LoadFile(path);
    } catch (const YAML::BadFile&) {
      return Status::InvalidArgument(fmt::format(
          "--config {}: cannot read the file; check the path", path));
    } catch (const YAML::Exception& e) {
      return Status::InvalidArgument(
          fmt::format("--config {}: not valid YAML: {}", path, e.what()));
    }
    if (!root.IsNull() && !root.IsMap()) {
      return Status::InvalidArgument(fmt::format(
          "--config {}: the top level must be a mapping of keys", path));
    }
    std::vector<std::pair<std::string, YAML::Node>> entries;
    if (root.IsMap()) {
      PULSE_RETURN_IF_ERROR(Flatten(root, "", path, entries));
    }
    for (const auto& [name, node] : entries) {
      auto v = ParseNode(*FindKey(name), node);
      if (!v.ok()) {
        return v.status().WithContext(path);
      }
      c.values_[name] = std::move(v).value();
      c.sources_[name] = path;
    }
  }

  // Layer 3: the environment.
  for (const ConfigKey& k : ConfigSchema()) {
    auto it = env.find(EnvNameFor(k.name));
    if (it == env.end()) {
      continue;
    }
    auto v = ParseText(k, it->second);
    if (!v.ok()) {
      return v.status().WithContext(it->first);
    }
    c.values_[std::string(k.name)] = std::move(v).value();
    c.sources_[std::string(k.name)] = "env";
  }
  return c;
}

Status Config::Set(std::string_view key, std::string_view text) {
  const ConfigKey* k = FindKey(key);
  if (k == nullptr) {
    return Status::InvalidArgument(
        fmt::format("unknown key '{}'{}", key, Suggest(key)));
  }
  auto v = ParseText(*k, text);
  if (!v.ok()) {
    return v.status();
  }
  values_[std::string(key)] = std::move(v).value();
  sources_[std::string(key)] = "flag";
  return Status::Ok();
}

const Config::Value& Config::Get(std::string_view key) const {
  auto it = values_.find(key);
  if (it == values_.end()) {
    // A programming error: every key read must be in the schema.
    std::fprintf(stderr, "config key '%.*s' is not in the schema\n",
                 static_cast<int>(key.size()), key.data());
    std::abort();
  }
  return it->second;
}

const std::string& Config::GetString(std::string_view key) const {
  return std::get<std::string>(Get(key));
}
int64_t Config::GetInt(std::string_view key) const {
  return std::get<int64_t>(Get(key));
}
bool Config::GetBool(std::string_view key) const {
  return std::get<bool>(Get(key));
}
std::chrono::milliseconds Config::GetDuration(std::string_view key) const {
  return std::get<std::chrono::milliseconds>(Get(key));
}
const std::vector<std::string>& Config::GetList(std::string_view key) const {
  return std::get<std::vector<std::string>>(Get(key));
}
const std::map<std::string, std::string>& Config::GetMap(
    std::string_view key) const {
  return std::get<std::map<std::string, std::string>>(Get(key));
}

const std::string& Config::SourceOf(std::string_view key) const {
  return sources_.find(key)->second;
}

std::string Config::Describe() const {
  std::string out;
  for (const ConfigKey& k : ConfigSchema()) {
    const Value& v = Get(k.name);
    std::string text = FormatValue(v);
    if (k.secret && !text.empty()) {
      text = k.type == ConfigType::kString ? RedactConnectionString(text)
                                           : "<redacted>";
    }
    out += fmt::format("{} = {}  # {}\n", k.name, text, SourceOf(k.name));
  }
  return out;
}

std::string Config::Reference() {
  std::string out =
      "| key | environment | type | default | meaning |\n"
      "|---|---|---|---|---|\n";
  for (const ConfigKey& k : ConfigSchema()) {
    std::string type(TypeHint(k));
    if (k.type == ConfigType::kDuration) {
      type = "duration";
    }
    std::string fallback =
        k.fallback.empty() ? "" : fmt::format("`{}`", k.fallback);
    out += fmt::format("| `{}` | `{}` | {} | {} | {} |\n", k.name,
                       EnvNameFor(k.name), type, fallback, k.help);
  }
  return out;
}

std::string RedactConnectionString(std::string_view url) {
  std::string s(url);

  // URL form: postgresql://user:secret@host/db
  size_t scheme = s.find("://");
  if (scheme != std::string::npos) {
    size_t at = s.find('@', scheme + 3);
    size_t colon = s.find(':', scheme + 3);
    if (at != std::string::npos && colon != std::string::npos && colon < at) {
      s.replace(colon + 1, at - colon - 1, "***");
    }
  }

  // Query or key=value form: password=secret
  size_t p = s.find("password=");
  while (p != std::string::npos) {
    size_t start = p + 9;
    size_t end = s.find_first_of(" &", start);
    if (end == std::string::npos) {
      end = s.size();
    }
    s.replace(start, end - start, "***");
    p = s.find("password=", start + 3);
  }
  return s;
}

}  // namespace pulse
