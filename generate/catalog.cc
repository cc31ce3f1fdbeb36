#include "generate/catalog.h"

#include <fmt/format.h>

#include "generate/random.h"

namespace pulse::generate {

namespace {

// Stream numbers for Mix64(seed, stream): one per pool, so growing one pool
// leaves the others as they were.
constexpr uint64_t kUserStream = 0x7573657273ULL;
constexpr uint64_t kIpStream = 0x697073ULL;
constexpr uint64_t kFlowStream = 0x666c6f7773ULL;

constexpr uint32_t kFlows = 12;

// A content site's collections, busiest first.
const std::vector<CollectionInfo>& BuiltInCollections() {
  using K = KeyKind;
  static const std::vector<CollectionInfo> kList = {
      {"articles", K::kInteger},
      {"pages", K::kInteger},
      {"products", K::kInteger},
      {"directus_files", K::kUuid},
      {"orders", K::kUuid},
      {"customers", K::kInteger},
      {"posts", K::kInteger},
      {"categories", K::kInteger},
      {"order_items", K::kInteger},
      {"events", K::kInteger},
      {"directus_users", K::kUuid},
      {"authors", K::kInteger},
      {"tags", K::kInteger},
      {"reviews", K::kInteger},
      {"inventory", K::kInteger},
      {"invoices", K::kUuid},
      {"comments", K::kInteger},
      {"media", K::kUuid},
      {"faqs", K::kInteger},
      {"navigation", K::kInteger},
      {"team_members", K::kInteger},
      {"locations", K::kInteger},
      {"testimonials", K::kInteger},
      {"newsletters", K::kInteger},
      {"subscribers", K::kUuid},
      {"redirects", K::kInteger},
      {"directus_folders", K::kUuid},
      {"directus_presets", K::kInteger},
      {"directus_translations", K::kUuid},
      {"directus_dashboards", K::kUuid},
      {"directus_panels", K::kUuid},
      {"directus_flows", K::kUuid},
      {"directus_operations", K::kUuid},
      {"directus_roles", K::kUuid},
      {"directus_policies", K::kUuid},
      {"directus_permissions", K::kInteger},
      {"directus_fields", K::kInteger},
      {"directus_collections", K::kName},
      {"directus_shares", K::kUuid},
      {"directus_settings", K::kSingleton},
  };
  return kList;
}

constexpr UserAgentInfo kUserAgents[] = {
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
     "like Gecko) Chrome/124.0.0.0 Safari/537.36",
     30, true},
    {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
     "(KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36",
     18, true},
    {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) Version/17.4 Safari/605.1.15",
     12, true},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 "
     "Firefox/125.0",
     8, true},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
     "like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
     7, true},
    {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/122.0.0.0 Safari/537.36",
     4, true},
    {"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:124.0) Gecko/20100101 "
     "Firefox/124.0",
     3, true},
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) "
     "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 "
     "Safari/604.1",
     4, true},
    {"Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
     2, true},
    {"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, "
     "like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
     2, true},
    {"node", 5, false},
    {"axios/1.6.8", 3, false},
    {"PostmanRuntime/7.37.3", 1, false},
    {"curl/8.5.0", 1, false},
};

constexpr OriginInfo kOrigins[] = {
    {"https://cms.example.com", 70},        {"https://admin.example.com", 15},
    {"https://www.example.com", 5},         {"http://localhost:8055", 5},
    {"https://staging-cms.example.com", 5},
};

constexpr std::string_view kComments[] = {
    "Fixed a typo",          "Updated the price",    "Approved for publishing",
    "Needs review",          "Added alt text",       "Translated to German",
    "Reverted the headline", "Moved to the archive",
};

// A public unicast IPv4 address outside private, loopback, link-local,
// carrier-grade NAT and documentation ranges.
std::string PublicIpv4(Rng& rng) {
  uint32_t first = 0;
  do {
    first = 1 + rng.Below(223);
  } while (first == 10 || first == 100 || first == 127 || first == 169 ||
           first == 172 || first == 192 || first == 198 || first == 203);
  return fmt::format("{}.{}.{}.{}", first, rng.Below(256), rng.Below(256),
                     1 + rng.Below(254));
}

std::string PrivateIpv4(Rng& rng) {
  double u = rng.Unit();
  if (u < 0.5) {
    return fmt::format("10.{}.{}.{}", rng.Below(256), rng.Below(256),
                       1 + rng.Below(254));
  }
  if (u < 0.85) {
    return fmt::format("192.168.{}.{}", rng.Below(256), 1 + rng.Below(254));
  }
  return fmt::format("172.{}.{}.{}", 16 + rng.Below(16), rng.Below(256),
                     1 + rng.Below(254));
}

std::string GlobalIpv6(Rng& rng) {
  static constexpr std::string_view kPrefixes[] = {
      "2001:4860", "2a02:8108", "2a01:4f8", "2600:1700", "2406:da18"};
  std::string out(kPrefixes[rng.Below(5)]);
  for (int group = 0; group < 6; ++group) {
    out += fmt::format(":{:x}", rng.Below(0x10000));
  }
  return out;
}

// The address mix of a site's visitors.
std::string DrawIp(Rng& rng) {
  double u = rng.Unit();
  if (u < 0.72) {
    return PublicIpv4(rng);
  }
  if (u < 0.85) {
    return PrivateIpv4(rng);
  }
  if (u < 0.97) {
    return GlobalIpv6(rng);
  }
  return "::ffff:" + PublicIpv4(rng);
}

void AddHostileValues(Catalog& c) {
  // ip is varchar(50): what X-Forwarded-For can carry, at most 50 chars.
  c.hostile_ips = {
      "not-an-ip",
      "1.2.3.4:5678",
      "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
      "::ffff:192.0.2.1",
      "192.0.2.1, 10.0.0.1",
      "fe80::1%eth0",
      "unknown",
      "",
      "' OR '1'='1",
      "\\N",
      "tab\there",
      "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN",
  };

  // user_agent is text: no limit, so one is 10 KB.
  std::string big = "Mozilla/5.0 ";
  while (big.size() < 10240) {
    big += "(compatible; HostileBot/1.0; +https://example.invalid) ";
  }
  big.resize(10240);
  c.hostile_agents = {
      big,
      "Robert'); DROP TABLE directus_activity;--",
      "tab\there\nnew line\rreturn\\backslash",
      "bell\x07 and escape\x1b[0m",
      "Bot \xF0\x9F\xA4\x96 \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E",
      "\\N",
      "",
  };

  // collection is varchar(64).
  c.hostile_collections = {
      "it's",
      "\"quoted\"",
      "semi;colon",
      "select",
      "DROP TABLE directus_activity;--",
      "\xE6\x96\x87\xE7\xAB\xA0",  // CJK
      "\xF0\x9F\x93\x9D notes",    // emoji
      "back\\slash",
      "line\nbreak",
      "\\N",
      "collection_" + std::string(53, 'z'),
  };
  std::string accented;
  for (int i = 0; i < 64; ++i) {
    accented += "\xC3\xA9";  // 64 characters, 128 bytes
  }
  c.hostile_collections.push_back(accented);

  // item is varchar(255).
  std::string cjk_item;
  for (int i = 0; i < 255; ++i) {
    cjk_item += "\xE4\xB8\xAD";
  }
  c.hostile_items = {
      "item-" + std::string(250, 'x'),
      cjk_item,
      "1; DELETE FROM directus_activity",
      "\xF0\x9F\x98\x80",
      "a\tb\nc\\d",
      "\\N",
      "-1",
      "",
  };

  // origin is varchar(255).
  c.hostile_origins = {
      "https://" + std::string(243, 'a') + ".com",
      "null",
      "javascript:alert(1)",
      "https://\xE4\xBE\x8B\xE3\x81\x88.jp",
      "",
  };
}

}  // namespace

Catalog BuildCatalog(uint64_t seed, uint32_t collections, uint32_t users,
                     uint32_t ips) {
  Catalog c;

  // Collections: the built-in site first, then numbered extras if asked.
  const auto& builtin = BuiltInCollections();
  for (uint32_t i = 0; i < collections; ++i) {
    if (i < builtin.size()) {
      c.collections.push_back(builtin[i]);
    } else {
      c.collections.push_back(
          {fmt::format("collection_{}", i + 1), KeyKind::kInteger});
    }
  }
  c.user_agents.assign(std::begin(kUserAgents), std::end(kUserAgents));
  c.origins.assign(std::begin(kOrigins), std::end(kOrigins));
  c.comments.assign(std::begin(kComments), std::end(kComments));

  // Addresses: drawn from their own stream; the first kHotIps are the hot
  // ones simply by being sampled more.
  Rng ip_rng(Mix64(seed, kIpStream));
  c.ips.reserve(ips);
  for (uint32_t i = 0; i < ips; ++i) {
    c.ips.push_back(DrawIp(ip_rng));
  }

  // Users: a uuid, a home address and a usual browser each.
  std::vector<double> agent_weights;
  for (const auto& a : c.user_agents) {
    agent_weights.push_back(a.weight);
  }
  WeightedSampler agents(agent_weights);
  Rng user_rng(Mix64(seed, kUserStream));
  for (uint32_t i = 0; i < users; ++i) {
    uint64_t hi = user_rng.Next();
    uint64_t lo = user_rng.Next();
    c.users.push_back(UuidFromBits(hi, lo));
    c.user_home_ip.push_back(user_rng.Below(ips));
    c.user_home_agent.push_back(agents.Sample(user_rng));
  }

  // Flows: a handful of automations that run all day.
  Rng flow_rng(Mix64(seed, kFlowStream));
  for (uint32_t i = 0; i < kFlows; ++i) {
    uint64_t hi = flow_rng.Next();
    c.flows.push_back(UuidFromBits(hi, flow_rng.Next()));
  }

  AddHostileValues(c);
  return c;
}

size_t Utf8Length(std::string_view text) {
  size_t n = 0;
  for (unsigned char ch : text) {
    n += (ch & 0xC0) != 0x80;
  }
  return n;
}

}  // namespace pulse::generate
