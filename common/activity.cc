#include "common/activity.h"

#include <array>

namespace pulse {

namespace {

constexpr std::array<std::string_view,
                     static_cast<size_t>(ActivityField::kCount)>
    kColumns = {"id",         "action",     "user", "timestamp", "ip",
                "user_agent", "collection", "item", "origin"};

}  // namespace

std::string_view ActivityColumnName(ActivityField f) {
  return kColumns[static_cast<size_t>(f)];
}

ActivityField ActivityFieldForColumn(std::string_view column) {
  for (size_t i = 0; i < kColumns.size(); ++i) {
    if (kColumns[i] == column) {
      return static_cast<ActivityField>(i);
    }
  }
  return ActivityField::kCount;
}

}  // namespace pulse
