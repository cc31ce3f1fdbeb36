// Status and Result<T>: how every fallible call in Pulse reports failure.
//
// A Status is either OK or a code plus a message that names what broke and,
// where possible, how to fix it. Result<T> holds a value or a non-OK Status.
// Both are [[nodiscard]]: a caller that really wants to drop an error writes
// IgnoreError(), which is easy to grep for.
//
// Errors of each library (libpq, librdkafka, RocksDB, simdjson) are turned
// into a Status in one adapter per library (pg.cc, kafka.cc, ...), never
// ad hoc at call sites.

#ifndef PULSE_COMMON_STATUS_H_
#define PULSE_COMMON_STATUS_H_

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace pulse {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk,
    kInvalidArgument,     // bad input or configuration; retrying won't help
    kNotFound,            // a named thing does not exist
    kFailedPrecondition,  // the world is not set up as required
    kUnavailable,         // a dependency is down; retry with backoff
    kDataLoss,            // data we needed is gone; stop loudly
    kAborted,             // a conflict; the caller may retry the unit
    kCancelled,           // shutdown was requested
    kInternal,            // a bug or an unexpected library answer
  };

  Status() = default;
  Status(Code code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) {
    return {Code::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) {
    return {Code::kNotFound, std::move(m)};
  }
  static Status FailedPrecondition(std::string m) {
    return {Code::kFailedPrecondition, std::move(m)};
  }
  static Status Unavailable(std::string m) {
    return {Code::kUnavailable, std::move(m)};
  }
  static Status DataLoss(std::string m) {
    return {Code::kDataLoss, std::move(m)};
  }
  static Status Aborted(std::string m) {
    return {Code::kAborted, std::move(m)};
  }
  static Status Cancelled(std::string m) {
    return {Code::kCancelled, std::move(m)};
  }
  static Status Internal(std::string m) {
    return {Code::kInternal, std::move(m)};
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "unavailable: connection refused ..." (or "ok").
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context: `.
  Status WithContext(std::string_view context) const;

  // The one sanctioned way to drop an error on the floor.
  void IgnoreError() const {}

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

std::string_view CodeName(Status::Code code);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace pulse

#define PULSE_CONCAT_INNER(a, b) a##b
#define PULSE_CONCAT(a, b) PULSE_CONCAT_INNER(a, b)

// Returns the Status of `expr` from the enclosing function if it failed.
#define PULSE_RETURN_IF_ERROR(expr)         \
  do {                                      \
    ::pulse::Status pulse_status_ = (expr); \
    if (!pulse_status_.ok()) {              \
      return pulse_status_;                 \
    }                                       \
  } while (false)

// `lhs = value of expr`, or return its Status from the enclosing function.
#define PULSE_ASSIGN_OR_RETURN(lhs, expr) \
  PULSE_ASSIGN_OR_RETURN_IMPL(PULSE_CONCAT(pulse_result_, __LINE__), lhs, expr)

#define PULSE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) {                                  \
    return tmp.status();                            \
  }                                                 \
  lhs = std::move(tmp).value()

#endif  // PULSE_COMMON_STATUS_H_
