// Hostile values and the attacker: what the pipeline downstream must
// survive, and what its alert rules must catch.

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "generate/activity_generator.h"

namespace pulse::generate {
namespace {

constexpr int kRows = 50'000;

// Every value fits its column, so PostgreSQL accepts the row as Directus
// would have written it.
void ExpectFitsColumns(const ActivityRow& r) {
  EXPECT_LE(Utf8Length(r.action), kMaxAction);
  EXPECT_LE(Utf8Length(r.collection), kMaxCollection) << r.collection;
  EXPECT_LE(Utf8Length(r.item), kMaxItem);
  if (r.ip) {
    EXPECT_LE(Utf8Length(*r.ip), kMaxIp) << *r.ip;
  }
  if (r.origin) {
    EXPECT_LE(Utf8Length(*r.origin), kMaxOrigin);
  }
}

class HostileFractionTest : public ::testing::TestWithParam<double> {};

TEST_P(HostileFractionTest, ShareIsRespectedAndValuesFitColumns) {
  const uint64_t seed = 4242;
  SCOPED_TRACE(::testing::Message() << "seed=" << seed);
  GeneratorOptions o;
  o.seed = seed;
  o.hostile_fraction = GetParam();
  ActivityGenerator g(o);
  ActivityRow row;
  int64_t hostile = 0;
  for (int i = 0; i < kRows; ++i) {
    g.Fill(row);
    ExpectFitsColumns(row);
    hostile += row.hostile;
  }
  EXPECT_NEAR(static_cast<double>(hostile) / kRows, GetParam(), 0.01);
}

INSTANTIATE_TEST_SUITE_P(Fractions, HostileFractionTest,
                         ::testing::Values(0.0, 0.05, 0.3, 1.0));

TEST(HostileValuesTest, EveryKindOfHostileValueOccurs) {
  GeneratorOptions o;
  o.hostile_fraction = 1.0;
  ActivityGenerator g(o);
  ActivityRow row;
  bool odd_ip = false;
  bool port_ip = false;
  bool huge_agent = false;
  bool quote_collection = false;
  bool control_chars = false;
  bool all_null = false;
  bool max_ip = false;
  for (int i = 0; i < 20'000; ++i) {
    g.Fill(row);
    odd_ip |= row.ip == "not-an-ip";
    port_ip |= row.ip == "1.2.3.4:5678";
    max_ip |= row.ip && row.ip->size() == kMaxIp;
    huge_agent |= row.user_agent && row.user_agent->size() >= 10'000;
    quote_collection |= row.collection == "it's";
    control_chars |= row.item.find('\t') != std::string::npos;
    all_null |=
        !row.user && !row.ip && !row.user_agent && !row.origin && !row.comment;
  }
  EXPECT_TRUE(odd_ip);
  EXPECT_TRUE(port_ip);
  EXPECT_TRUE(max_ip);
  EXPECT_TRUE(huge_agent);
  EXPECT_TRUE(quote_collection);
  EXPECT_TRUE(control_chars);
  EXPECT_TRUE(all_null);
}

TEST(HostileValuesTest, LongestValuesSitExactlyAtTheColumnLimits) {
  Catalog c = BuildCatalog(1, 1, 1, 1);
  auto longest = [](const std::vector<std::string>& pool) {
    size_t n = 0;
    for (const auto& v : pool) {
      n = std::max(n, Utf8Length(v));
    }
    return n;
  };
  EXPECT_EQ(longest(c.hostile_ips), kMaxIp);
  EXPECT_EQ(longest(c.hostile_collections), kMaxCollection);
  EXPECT_EQ(longest(c.hostile_items), kMaxItem);
  EXPECT_EQ(longest(c.hostile_origins), kMaxOrigin);
}

TEST(AttackerTest, AttackRowsComeFromOneAddressWithManyLogins) {
  GeneratorOptions o;
  o.attacker_ip = "203.0.113.66";
  ActivityGenerator g(o);
  ActivityRow row;
  int logins = 0;
  std::set<std::string_view> collections;
  std::set<std::string_view> users;
  for (int i = 0; i < 1000; ++i) {
    g.FillAttack(row);
    ASSERT_EQ(row.source, RowSource::kAttacker);
    ASSERT_EQ(row.ip, "203.0.113.66");
    ASSERT_EQ(row.user_agent, kAttackerAgent);
    ASSERT_FALSE(row.origin);
    ExpectFitsColumns(row);
    logins += row.action == "login";
    collections.insert(row.collection);
    users.insert(*row.user);
  }
  EXPECT_GT(logins, 300);
  EXPECT_GE(collections.size(), 10u);
  EXPECT_LE(users.size(), 3u);
}

TEST(AttackerTest, SiteAddressesNeverCollideWithTheDocumentationRange) {
  // The attacker's default lives in 203.0.113.0/24; the site never does.
  Catalog c = BuildCatalog(7, 40, 2000, 50'000);
  for (const auto& ip : c.ips) {
    ASSERT_NE(ip.rfind("203.", 0), 0u) << ip;
  }
}

}  // namespace
}  // namespace pulse::generate
