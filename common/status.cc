#include "common/status.h"

namespace pulse {

std::string_view CodeName(Status::Code code) {
  switch (code) {
    case Status::Code::kOk:
      return "ok";
    case Status::Code::kInvalidArgument:
      return "invalid_argument";
    case Status::Code::kNotFound:
      return "not_found";
    case Status::Code::kFailedPrecondition:
      return "failed_precondition";
    case Status::Code::kUnavailable:
      return "unavailable";
    case Status::Code::kDataLoss:
      return "data_loss";
    case Status::Code::kAborted:
      return "aborted";
    case Status::Code::kCancelled:
      return "cancelled";
    case Status::Code::kInternal:
      return "internal";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) {
    return "ok";
  }
  std::string out(CodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) {
    return *this;
  }
  std::string m(context);
  m += ": ";
  m += message_;
  return {code_, std::move(m)};
}

}  // namespace pulse
