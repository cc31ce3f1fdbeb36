// Catalog: the pools of values synthetic activity draws from, built once
// from a seed: collections (in popularity order), users and their habits,
// client addresses, user agents, origins, flows, and the hostile values.
//
// Immutable after BuildCatalog(); safe to read from any thread.

#ifndef PULSE_GENERATE_CATALOG_H_
#define PULSE_GENERATE_CATALOG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pulse::generate {

// How a collection's primary key looks in the `item` column.
enum class KeyKind {
  kInteger,    // "1042"
  kUuid,       // "3f2c...-..."
  kName,       // directus_collections: another collection's name
  kSingleton,  // directus_settings: always "1"
};

struct CollectionInfo {
  std::string name;
  KeyKind key;
};

struct UserAgentInfo {
  std::string_view text;
  double weight;
  bool browser;  // API clients send no Origin header
};

struct OriginInfo {
  std::string_view text;
  double weight;
};

// The first kHotIps addresses are shared by many users (an office NAT, a
// VPN exit); kHotIpShare of user rows come from one of them.
constexpr uint32_t kHotIps = 5;
constexpr double kHotIpShare = 0.10;

struct Catalog {
  // Rank order: the first is the busiest.
  std::vector<CollectionInfo> collections;

  std::vector<std::string> users;  // uuids
  std::vector<uint32_t> user_home_ip;
  std::vector<uint32_t> user_home_agent;

  std::vector<std::string> ips;
  std::vector<std::string> flows;  // uuids of directus_flows items

  std::vector<UserAgentInfo> user_agents;
  std::vector<OriginInfo> origins;
  std::vector<std::string_view> comments;

  // Values real Directus stores unchecked, each within its column's limit.
  std::vector<std::string> hostile_ips;
  std::vector<std::string> hostile_agents;
  std::vector<std::string> hostile_collections;
  std::vector<std::string> hostile_items;
  std::vector<std::string> hostile_origins;
};

Catalog BuildCatalog(uint64_t seed, uint32_t collections, uint32_t users,
                     uint32_t ips);

// The attacker's user agent: a script, not a browser.
constexpr std::string_view kAttackerAgent = "python-requests/2.31.0";

// Column limits of directus_activity, in characters.
constexpr size_t kMaxAction = 45;
constexpr size_t kMaxIp = 50;
constexpr size_t kMaxCollection = 64;
constexpr size_t kMaxItem = 255;
constexpr size_t kMaxOrigin = 255;

// Characters (UTF-8 code points) in `text`, as varchar(n) counts them.
size_t Utf8Length(std::string_view text);

}  // namespace pulse::generate

#endif  // PULSE_GENERATE_CATALOG_H_
