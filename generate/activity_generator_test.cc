#include "generate/activity_generator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

namespace pulse::generate {
namespace {

// Draws `n` rows; owned copies, so they outlive nothing but the generator.
std::vector<ActivityRow> Draw(ActivityGenerator& g, int n) {
  std::vector<ActivityRow> rows(n);
  for (ActivityRow& row : rows) {
    g.Fill(row);
  }
  return rows;
}

double Share(int64_t part, size_t whole) {
  return static_cast<double>(part) / static_cast<double>(whole);
}

class ActivityGeneratorTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kSeed = 20240601;
  static constexpr int kRows = 200'000;

  void SetUp() override {
    SCOPED_TRACE(::testing::Message() << "seed=" << kSeed);
    GeneratorOptions o;
    o.seed = kSeed;
    generator_ = std::make_unique<ActivityGenerator>(o);
    rows_ = Draw(*generator_, kRows);
  }

  std::unique_ptr<ActivityGenerator> generator_;
  std::vector<ActivityRow> rows_;
};

TEST(ActivityGeneratorSeedTest, SameSeedGivesSameRowsOtherSeedOtherRows) {
  GeneratorOptions o;
  o.seed = 99;
  o.hostile_fraction = 0.2;
  ActivityGenerator a(o);
  ActivityGenerator b(o);
  o.seed = 100;
  ActivityGenerator c(o);
  auto ra = Draw(a, 5000);
  auto rb = Draw(b, 5000);
  auto rc = Draw(c, 5000);
  EXPECT_EQ(ra, rb);
  int same = 0;
  for (size_t i = 0; i < ra.size(); ++i) {
    same += ra[i] == rc[i];
  }
  EXPECT_LT(same, 50);
}

TEST_F(ActivityGeneratorTest, ActionSharesMatchADirectusSite) {
  std::map<std::string_view, int64_t> counts;
  for (const auto& r : rows_) {
    ++counts[r.action];
  }
  struct Expected {
    std::string_view action;
    double share;
  };
  for (const Expected& e : {Expected{"create", 0.30},
                            {"update", 0.45},
                            {"delete", 0.05},
                            {"login", 0.10},
                            {"logout", 0.05},
                            {"run", 0.035},
                            {"version_save", 0.006}}) {
    SCOPED_TRACE(e.action);
    EXPECT_NEAR(Share(counts[e.action], rows_.size()), e.share, 0.005);
  }
  EXPECT_EQ(counts.size(), 11u) << "every action Directus defines occurs";
}

TEST_F(ActivityGeneratorTest, AboutOneRowInTenHasNoUser) {
  int64_t no_user = std::count_if(rows_.begin(), rows_.end(),
                                  [](const auto& r) { return !r.user; });
  EXPECT_NEAR(Share(no_user, rows_.size()), 0.10, 0.01);
}

TEST_F(ActivityGeneratorTest, FlowRowsCarryNoClientFields) {
  int flows = 0;
  for (const auto& r : rows_) {
    if (r.action == "run") {
      ASSERT_EQ(r.source, RowSource::kFlow);
      EXPECT_EQ(r.collection, "directus_flows");
    }
    if (r.source != RowSource::kFlow) {
      continue;
    }
    ++flows;
    ASSERT_FALSE(r.user);
    ASSERT_FALSE(r.ip);
    ASSERT_FALSE(r.user_agent);
    ASSERT_FALSE(r.origin);
  }
  EXPECT_GT(flows, kRows / 20);
}

TEST_F(ActivityGeneratorTest, SessionRowsTargetTheUsersOwnRecord) {
  for (const auto& r : rows_) {
    if (r.action != "login" && r.action != "logout") {
      continue;
    }
    ASSERT_EQ(r.collection, "directus_users");
    ASSERT_TRUE(r.user);
    ASSERT_EQ(r.item, *r.user);
    ASSERT_TRUE(r.ip);
  }
}

TEST_F(ActivityGeneratorTest, CollectionsAndUsersAreSkewed) {
  std::map<std::string_view, int64_t> by_collection;
  std::map<std::string_view, int64_t> by_user;
  for (const auto& r : rows_) {
    ++by_collection[r.collection];
    if (r.user) {
      ++by_user[*r.user];
    }
  }
  const auto& names = generator_->catalog().collections;
  ASSERT_EQ(names.size(), 40u);
  double first = Share(by_collection[names[0].name], rows_.size());
  double fifth = Share(by_collection[names[4].name], rows_.size());
  double last = Share(by_collection[names[39].name], rows_.size());
  EXPECT_GT(first, 0.10);
  EXPECT_LT(first, 0.25);
  EXPECT_GT(first, 2 * fifth);
  EXPECT_GT(fifth, 4 * last);
  EXPECT_GT(last, 0) << "even the quietest collection sees activity";

  int64_t heaviest = 0;
  for (const auto& [user, n] : by_user) {
    heaviest = std::max(heaviest, n);
  }
  EXPECT_GT(by_user.size(), 1500u);
  EXPECT_GT(Share(heaviest, rows_.size()), 0.02);
}

TEST_F(ActivityGeneratorTest, ApiClientsSendNoOriginBrowsersDo) {
  std::set<std::string_view> browsers;
  for (const auto& a : generator_->catalog().user_agents) {
    if (a.browser) {
      browsers.insert(a.text);
    }
  }
  int64_t api = 0;
  for (const auto& r : rows_) {
    if (!r.user_agent) {
      continue;
    }
    bool browser = browsers.count(*r.user_agent) > 0;
    api += !browser;
    ASSERT_EQ(r.origin.has_value(), browser) << *r.user_agent;
  }
  EXPECT_GT(api, 0);
}

TEST_F(ActivityGeneratorTest, AddressesMixVersionsAndHaveHotOnes) {
  const auto& ips = generator_->catalog().ips;
  auto with = [&](std::string_view part, bool prefix) {
    return std::count_if(ips.begin(), ips.end(), [&](const std::string& ip) {
      return prefix ? ip.rfind(part, 0) == 0
                    : ip.find(part) != std::string::npos;
    });
  };
  EXPECT_GT(with(":", false), 250) << "IPv6";
  EXPECT_GT(with("10.", true), 100);
  EXPECT_GT(with("192.168.", true), 50);

  std::map<std::string_view, int64_t> by_ip;
  for (const auto& r : rows_) {
    if (r.ip) {
      ++by_ip[*r.ip];
    }
  }
  EXPECT_GT(by_ip.size(), 3000u);
  EXPECT_GT(Share(by_ip[ips[0]], rows_.size()), 0.015);
}

TEST_F(ActivityGeneratorTest, CommentsAreRareAndNeverOnSessions) {
  int64_t with_comment = 0;
  for (const auto& r : rows_) {
    if (r.comment) {
      ++with_comment;
      ASSERT_NE(r.action, "login");
    }
  }
  EXPECT_NEAR(Share(with_comment, rows_.size()), 0.03 * 0.85, 0.005);
}

struct SizeCase {
  uint32_t collections;
  uint32_t users;
  uint32_t ips;
};

void PrintTo(const SizeCase& c, std::ostream* os) {
  *os << "collections=" << c.collections << " users=" << c.users
      << " ips=" << c.ips;
}

class GeneratorSizeTest : public ::testing::TestWithParam<SizeCase> {};

TEST_P(GeneratorSizeTest, PoolsHaveTheConfiguredSizes) {
  const SizeCase& c = GetParam();
  GeneratorOptions o;
  o.collections = c.collections;
  o.users = c.users;
  o.ips = c.ips;
  ASSERT_TRUE(ValidateGeneratorOptions(o).ok());
  ActivityGenerator g(o);
  std::set<std::string_view> users;
  std::set<std::string_view> ips;
  std::set<std::string_view> collections;
  for (const auto& r : Draw(g, 20'000)) {
    if (r.user) {
      users.insert(*r.user);
    }
    if (r.ip) {
      ips.insert(*r.ip);
    }
    collections.insert(r.collection);
  }
  EXPECT_EQ(g.catalog().collections.size(), c.collections);
  EXPECT_LE(users.size(), c.users);
  EXPECT_LE(ips.size(), c.ips);
  // Sessions, flows, uploads and installs add their system collections.
  EXPECT_LE(collections.size(), c.collections + 4);
}

INSTANTIATE_TEST_SUITE_P(Sizes, GeneratorSizeTest,
                         ::testing::Values(SizeCase{1, 1, 1},
                                           SizeCase{5, 20, 10},
                                           SizeCase{200, 50'000, 20'000}));

TEST(GeneratorValidationTest, OutOfRangeSettingsAreNamed) {
  struct Case {
    GeneratorOptions o;
    std::string_view names;
  };
  GeneratorOptions ok;
  std::vector<Case> cases;
  cases.push_back({ok, ""});
  cases.push_back({ok, "collections"});
  cases.back().o.collections = 0;
  cases.push_back({ok, "users"});
  cases.back().o.users = 0;
  cases.push_back({ok, "ips"});
  cases.back().o.ips = 2'000'000;
  cases.push_back({ok, "hostile_fraction"});
  cases.back().o.hostile_fraction = 1.5;
  cases.push_back({ok, "attacker_ip"});
  cases.back().o.attacker_ip = std::string(51, '1');
  for (const Case& c : cases) {
    SCOPED_TRACE(c.names);
    Status s = ValidateGeneratorOptions(c.o);
    if (c.names.empty()) {
      EXPECT_TRUE(s.ok()) << s.ToString();
    } else {
      EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
      EXPECT_NE(s.message().find(c.names), std::string::npos) << s.message();
    }
  }
}

}  // namespace
}  // namespace pulse::generate
