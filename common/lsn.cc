#include "common/lsn.h"

#include <fmt/format.h>

#include <charconv>

namespace pulse {

namespace {

std::optional<uint32_t> ParseHex32(std::string_view text) {
  if (text.empty() || text.size() > 8) {
    return std::nullopt;
  }
  uint32_t value = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

std::optional<Lsn> Lsn::Parse(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    return std::nullopt;
  }
  auto hi = ParseHex32(text.substr(0, slash));
  auto lo = ParseHex32(text.substr(slash + 1));
  if (!hi || !lo) {
    return std::nullopt;
  }
  return Lsn((static_cast<uint64_t>(*hi) << 32) | *lo);
}

std::string Lsn::ToString() const {
  return fmt::format("{:X}/{:X}", static_cast<uint32_t>(value_ >> 32),
                     static_cast<uint32_t>(value_));
}

}  // namespace pulse
