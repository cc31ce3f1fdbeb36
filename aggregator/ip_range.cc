// Addresses and CIDR blocks for the allow-list and the proxy check.

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "aggregator/alerts.h"

namespace pulse::aggregator {

bool ParseIpAddress(std::string_view ip, std::array<uint8_t, 16>& out,
                    bool& v4) {
  std::string text(ip);

  // "[v6]:port" and "v4:port", as X-Forwarded-For sometimes carries them.
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos) {
      return false;
    }
    text = text.substr(1, close - 1);
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    text = text.substr(0, text.find(':'));
  }

  out.fill(0);
  in_addr a4;
  if (inet_pton(AF_INET, text.c_str(), &a4) == 1) {
    std::memcpy(out.data(), &a4, 4);
    v4 = true;
    return true;
  }
  in6_addr a6;
  if (inet_pton(AF_INET6, text.c_str(), &a6) == 1) {
    std::memcpy(out.data(), &a6, 16);
    v4 = false;
    return true;
  }
  return false;
}

Result<IpRange> IpRange::Parse(std::string_view text) {
  IpRange r;
  std::string_view addr = text;
  int bits = -1;
  size_t slash = text.find('/');
  if (slash != std::string_view::npos) {
    addr = text.substr(0, slash);
    std::string_view b = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(b.data(), b.data() + b.size(), bits);
    if (ec != std::errc() || end != b.data() + b.size() || bits < 0) {
      bits = -2;  // "/-1" would otherwise read as no prefix at all
    }
  }
  if (!ParseIpAddress(addr, r.addr, r.v4) || bits == -2) {
    return Status::InvalidArgument(fmt::format(
        "alerts.allow_list: '{}' is not an IP address or CIDR block "
        "(examples: 10.0.0.0/8, 203.0.113.7, 2001:db8::/32)",
        text));
  }
  int max = r.v4 ? 32 : 128;
  r.bits = bits < 0 ? max : bits;
  if (r.bits > max) {
    return Status::InvalidArgument(fmt::format(
        "alerts.allow_list: '{}' has a prefix longer than {} bits", text, max));
  }
  return r;
}

bool IpRange::Contains(std::string_view ip) const {
  std::array<uint8_t, 16> a;
  bool is_v4 = false;
  if (!ParseIpAddress(ip, a, is_v4) || is_v4 != v4) {
    return false;
  }
  int full = bits / 8;
  if (std::memcmp(a.data(), addr.data(), full) != 0) {
    return false;
  }
  int rest = bits % 8;
  if (rest == 0) {
    return true;
  }
  auto mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (a[full] & mask) == (addr[full] & mask);
}

bool AlertRules::Allowed(std::string_view ip) const {
  for (const IpRange& r : allow) {
    if (r.Contains(ip)) {
      return true;
    }
  }
  return false;
}

bool IsPrivateAddress(std::string_view ip) {
  std::array<uint8_t, 16> a;
  bool v4 = false;
  if (!ParseIpAddress(ip, a, v4)) {
    return false;
  }
  if (v4) {
    return a[0] == 10 || a[0] == 127 || (a[0] == 172 && (a[1] & 0xF0) == 16) ||
           (a[0] == 192 && a[1] == 168);
  }
  bool loopback = std::all_of(a.begin(), a.begin() + 15,
                              [](uint8_t b) { return b == 0; }) &&
                  a[15] == 1;
  return loopback || (a[0] & 0xFE) == 0xFC;  // ::1, fc00::/7
}

}  // namespace pulse::aggregator
