// StringMap: a hash map keyed by std::string that is looked up by
// std::string_view, so a lookup on the hot path builds no string.

#ifndef PULSE_AGGREGATOR_STRING_MAP_H_
#define PULSE_AGGREGATOR_STRING_MAP_H_

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pulse::aggregator {

struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const {
    return std::hash<std::string_view>()(s);
  }
};

template <typename Value>
using StringMap =
    std::unordered_map<std::string, Value, StringViewHash, std::equal_to<>>;

}  // namespace pulse::aggregator

#endif  // PULSE_AGGREGATOR_STRING_MAP_H_
