// Structured logging: one Logger per component, one event per line.
//
// A line is an event name followed by stable key=value pairs:
//
//   2026-12-03T15:54:12.123Z info ingest slot_created slot=pulse lsn=0/16B6C50
//
// or, with log.format=json, one JSON object per line with the same fields:
//
//   {"ts":"...","level":"info","component":"ingest","event":"slot_created",
//    "slot":"pulse","lsn":"0/16B6C50"}
//
// Loggers are cheap handles and safe to use from any thread. Values that
// contain spaces, quotes or '=' are quoted. Never pass secrets or row
// contents at info level.

#ifndef PULSE_COMMON_LOG_H_
#define PULSE_COMMON_LOG_H_

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

namespace pulse {

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError };
enum class LogFormat { kText, kJson };

// One key=value pair of an event. Holds views: build it in the call.
struct LogField {
  enum class Kind { kString, kInt, kUint, kDouble, kBool };

  LogField(std::string_view k, std::string_view v)
      : key(k), kind(Kind::kString), s(v) {}
  LogField(std::string_view k, const char* v)
      : key(k), kind(Kind::kString), s(v) {}
  LogField(std::string_view k, const std::string& v)
      : key(k), kind(Kind::kString), s(v) {}
  LogField(std::string_view k, bool v) : key(k), kind(Kind::kBool), b(v) {}
  LogField(std::string_view k, double v) : key(k), kind(Kind::kDouble), d(v) {}
  template <typename T,
            std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>,
                             int> = 0>
  LogField(std::string_view k, T v) : key(k) {
    if constexpr (std::is_signed_v<T>) {
      kind = Kind::kInt;
      i = static_cast<int64_t>(v);
    } else {
      kind = Kind::kUint;
      u = static_cast<uint64_t>(v);
    }
  }

  std::string_view key;
  Kind kind;
  std::string_view s;
  union {
    int64_t i = 0;
    uint64_t u;
    double d;
    bool b;
  };
};

using LogFields = std::initializer_list<LogField>;

// Process-wide settings; call once at start, before threads log.
void ConfigureLogging(LogLevel level, LogFormat format);
bool ParseLogLevel(std::string_view text, LogLevel& out);
bool ParseLogFormat(std::string_view text, LogFormat& out);

class Logger {
 public:
  explicit Logger(std::string component);

  void Trace(std::string_view event, LogFields fields = {}) const {
    Log(LogLevel::kTrace, event, fields);
  }
  void Debug(std::string_view event, LogFields fields = {}) const {
    Log(LogLevel::kDebug, event, fields);
  }
  void Info(std::string_view event, LogFields fields = {}) const {
    Log(LogLevel::kInfo, event, fields);
  }
  void Warn(std::string_view event, LogFields fields = {}) const {
    Log(LogLevel::kWarn, event, fields);
  }
  void Error(std::string_view event, LogFields fields = {}) const {
    Log(LogLevel::kError, event, fields);
  }

  bool Enabled(LogLevel level) const;
  void Log(LogLevel level, std::string_view event, LogFields fields) const;

 private:
  std::string component_;
};

// Formats the fields as the text format would ("k=v k2=\"a b\""); exposed
// for tests and for messages that embed fields.
std::string FormatFields(LogFields fields);

}  // namespace pulse

#endif  // PULSE_COMMON_LOG_H_
