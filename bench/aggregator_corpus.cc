// The aggregator benchmark's input: see aggregator_corpus.h.

#include "bench/aggregator_corpus.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "common/activity_json.h"

namespace pulse::aggregator::bench {

namespace {

constexpr size_t kUsers = 2000;
constexpr size_t kIps = 5000;
constexpr size_t kCollections = 40;
constexpr EventTimeMs kStart = 1796256000000;  // 2026-12-03T00:00:00Z

// Directus's actions, weighted roughly as a content team produces them.
struct ActionWeight {
  const char* action;
  int weight;
  const char* collection;  // fixed collection, or null for any
};
constexpr ActionWeight kActions[] = {
    {"update", 34, nullptr},
    {"create", 22, nullptr},
    {"delete", 6, nullptr},
    {"login", 10, "directus_users"},
    {"logout", 4, "directus_users"},
    {"run", 8, "directus_flows"},
    {"comment", 4, nullptr},
    {"upload", 5, "directus_files"},
    {"version_save", 4, nullptr},
    {"revert", 2, nullptr},
    {"install", 1, "directus_extensions"},
};

std::string Uuid(std::mt19937_64& rng) {
  uint64_t a = rng(), b = rng();
  return fmt::format("{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}", a >> 32,
                     a & 0xffff, (a >> 16) & 0xfff, b >> 52,
                     b & 0xffffffffffff);
}

// Mostly IPv4; some IPv6, some with a port as X-Forwarded-For carries them.
std::string Address(size_t i) {
  std::string v4 =
      fmt::format("203.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
  if (i % 31 == 0) {
    return fmt::format("2001:db8:{:x}::{:x}", i % 97, i);
  }
  return i % 17 == 0 ? fmt::format("{}:{}", v4, 1024 + i) : v4;
}

}  // namespace

const Corpus& GetCorpus() {
  static const Corpus corpus = [] {
    std::mt19937_64 rng(20261203);
    std::vector<std::string> users(kUsers), ips(kIps), collections;
    for (std::string& u : users) {
      u = Uuid(rng);
    }
    for (size_t i = 0; i < kIps; ++i) {
      ips[i] = Address(i);
    }
    for (size_t i = 0; i < kCollections - 4; ++i) {
      collections.push_back("collection_" + std::to_string(i));
    }
    const char* agents[] = {
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 "
        "Firefox/121.0",
        "Directus SDK/11.0 (node 20.10.0)",
        "curl/8.4.0",
    };
    int total_weight = 0;
    for (const ActionWeight& a : kActions) {
      total_weight += a.weight;
    }

    // Skewed picks: a few users and IPs are much busier than the rest.
    auto skewed = [&](size_t n, double power) {
      double u = std::uniform_real_distribution<double>(0, 1)(rng);
      return std::min(n - 1, static_cast<size_t>(n * std::pow(u, power)));
    };

    Corpus c;
    c.messages.reserve(kMessages);
    EventTimeMs t = kStart;
    uint64_t lsn = 0x16B000000;
    for (size_t i = 0; i < kMessages; ++i) {
      int w = static_cast<int>(rng() % total_weight);
      const ActionWeight* a = kActions;
      while (w >= a->weight) {
        w -= a->weight;
        ++a;
      }
      std::string item = std::to_string(rng() % 100000);
      ActivityRow row;
      row.id = static_cast<int64_t>(1'000'000 + i);
      row.action = a->action;
      row.collection = a->collection != nullptr
                           ? std::string_view(a->collection)
                           : std::string_view(collections[skewed(36, 2.0)]);
      if (rng() % 20 != 0) {
        row.user = users[skewed(kUsers, 1.5)];
      }
      row.timestamp = t;
      row.ip = ips[skewed(kIps, 2.0)];
      row.user_agent = agents[rng() % 4];
      row.item = item;
      row.origin = "https://cms.example.com";
      lsn += 200 + rng() % 300;
      SourcePosition src{.lsn = Lsn(lsn),
                         .commit_lsn = Lsn(lsn + 100),
                         .xid = static_cast<uint32_t>(5000 + i)};
      AppendActivityJson(row, src, c.messages.emplace_back());
      t += static_cast<int64_t>(rng() % 3);  // ~1 ms apart on average
    }
    c.span_ms = t - kStart + 1;
    return c;
  }();
  return corpus;
}

}  // namespace pulse::aggregator::bench
