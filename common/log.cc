#include "common/log.h"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>

#include "common/json_writer.h"
#include "common/time_util.h"

namespace pulse {

namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::atomic<LogFormat> g_format{LogFormat::kText};

// One spdlog logger writes every component's lines to stderr; stdout is
// reserved for command output (pulse broker prints its bootstrap address
// there, pulse query its answers). Lines arrive fully formatted.
spdlog::logger& Backend() {
  static spdlog::logger* backend = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto* l = new spdlog::logger("pulse", std::move(sink));
    l->set_pattern("%v");
    l->set_level(spdlog::level::trace);
    l->flush_on(spdlog::level::trace);
    return l;
  }();
  return *backend;
}

spdlog::level::level_enum ToSpdlog(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace:
      return spdlog::level::trace;
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace:
      return "trace";
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

bool NeedsQuotes(std::string_view s) {
  if (s.empty()) {
    return true;
  }
  for (char c : s) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' ||
        static_cast<unsigned char>(c) < 0x20) {
      return true;
    }
  }
  return false;
}

void AppendTextValue(std::string& out, const LogField& f) {
  switch (f.kind) {
    case LogField::Kind::kString:
      if (NeedsQuotes(f.s)) {
        // JSON string escaping is a fine quoting rule for text logs too.
        JsonWriter w(out);
        w.String(f.s);
      } else {
        out.append(f.s);
      }
      break;
    case LogField::Kind::kInt:
      fmt::format_to(std::back_inserter(out), "{}", f.i);
      break;
    case LogField::Kind::kUint:
      fmt::format_to(std::back_inserter(out), "{}", f.u);
      break;
    case LogField::Kind::kDouble:
      fmt::format_to(std::back_inserter(out), "{:.6g}", f.d);
      break;
    case LogField::Kind::kBool:
      out.append(f.b ? "true" : "false");
      break;
  }
}

void AppendJsonValue(JsonWriter& w, const LogField& f) {
  switch (f.kind) {
    case LogField::Kind::kString:
      w.String(f.s);
      break;
    case LogField::Kind::kInt:
      w.Int(f.i);
      break;
    case LogField::Kind::kUint:
      w.Uint(f.u);
      break;
    case LogField::Kind::kDouble:
      w.Double(f.d);
      break;
    case LogField::Kind::kBool:
      w.Bool(f.b);
      break;
  }
}

}  // namespace

void ConfigureLogging(LogLevel level, LogFormat format) {
  g_level.store(level);
  g_format.store(format);
}

bool ParseLogLevel(std::string_view text, LogLevel& out) {
  for (LogLevel l : {LogLevel::kTrace, LogLevel::kDebug, LogLevel::kInfo,
                     LogLevel::kWarn, LogLevel::kError}) {
    if (text == LevelName(l)) {
      out = l;
      return true;
    }
  }
  return false;
}

bool ParseLogFormat(std::string_view text, LogFormat& out) {
  if (text == "text") {
    out = LogFormat::kText;
    return true;
  }
  if (text == "json") {
    out = LogFormat::kJson;
    return true;
  }
  return false;
}

std::string FormatFields(LogFields fields) {
  std::string out;
  for (const LogField& f : fields) {
    if (!out.empty()) {
      out.push_back(' ');
    }
    out.append(f.key);
    out.push_back('=');
    AppendTextValue(out, f);
  }
  return out;
}

Logger::Logger(std::string component) : component_(std::move(component)) {}

bool Logger::Enabled(LogLevel level) const { return level >= g_level.load(); }

void Logger::Log(LogLevel level, std::string_view event,
                 LogFields fields) const {
  if (!Enabled(level)) {
    return;
  }
  char ts[24];
  FormatRfc3339Ms(NowMs(), ts);
  std::string line;
  line.reserve(128);

  if (g_format.load() == LogFormat::kJson) {
    JsonWriter w(line);
    w.BeginObject();
    w.Key("ts").String(std::string_view(ts, sizeof ts));
    w.Key("level").String(LevelName(level));
    w.Key("component").String(component_);
    w.Key("event").String(event);
    for (const LogField& f : fields) {
      w.Key(f.key);
      AppendJsonValue(w, f);
    }
    w.EndObject();
  } else {
    line.append(ts, sizeof ts);
    line.push_back(' ');
    line.append(LevelName(level));
    line.push_back(' ');
    line.append(component_);
    line.push_back(' ');
    line.append(event);
    for (const LogField& f : fields) {
      line.push_back(' ');
      line.append(f.key);
      line.push_back('=');
      AppendTextValue(line, f);
    }
  }
  Backend().log(ToSpdlog(level), std::string_view(line));
}

}  // namespace pulse
