// The alert rules: when suspicious_ip and login_burst fire, what an alert
// says, and what never fires. State, expiry and the clock are in
// alerts_state_test.cc; addresses in ip_range_test.cc.

#include "aggregator/alerts.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <map>
#include <random>
#include <string>
#include <vector>

namespace pulse::aggregator {
namespace {

constexpr EventTimeMs kMidnight = 1796256000000;  // 2026-12-03T00:00:00Z
constexpr std::string_view kIp = "203.0.113.7";

// A time on 2026-12-03, by minute of the day.
EventTimeMs At(int64_t minute, int64_t second = 0) {
  return kMidnight + minute * 60'000 + second * 1000;
}

class AlertEngineTest : public ::testing::Test {
 protected:
  AlertEngineTest() { engine_.set_now(At(24 * 60)); }

  // `n` events from `ip` within `minute`, spread over its seconds.
  void Feed(std::string_view ip, int64_t minute, int n,
            std::string_view action = "update",
            std::string_view collection = "articles") {
    for (int i = 0; i < n; ++i) {
      engine_.Observe(ip, At(minute, i % 60), collection, action, fired_);
    }
  }

  AlertRules rules_;
  AlertEngine engine_{&rules_};
  std::vector<Alert> fired_;
};

TEST_F(AlertEngineTest, SuspiciousFiresOnTheEventThatExceedsTheThreshold) {
  Feed(kIp, 600, 100);
  EXPECT_TRUE(fired_.empty()) << "100 is not more than 100";

  Feed(kIp, 600, 1);
  ASSERT_EQ(fired_.size(), 1u);
  const Alert& a = fired_[0];
  EXPECT_EQ(a.rule, "suspicious_ip");
  EXPECT_EQ(a.ip, kIp);
  EXPECT_EQ(a.count, 101);
  EXPECT_EQ(a.threshold, 100);
  EXPECT_EQ(a.window_start, At(600 - 59));
  EXPECT_EQ(a.window_end, At(601));
  EXPECT_EQ(a.id, "suspicious_ip:203.0.113.7:2026-12-03T09:01:00.000Z");
}

TEST_F(AlertEngineTest, SuspiciousFiresOnTheHundredAndFirstEventOfAWindow) {
  // Minutes of 101 events, each shape within one 60-minute window.
  std::map<std::string, std::vector<int64_t>> shapes;
  for (int64_t i = 0; i <= 100; ++i) {
    shapes["one minute"].push_back(600);
    shapes["across the window"].push_back(541 + i * 59 / 100);
    shapes["edges"].push_back(i < 50 ? 541 : 600);
  }
  for (const auto& [name, minutes] : shapes) {
    SCOPED_TRACE(name);
    AlertRules rules;
    AlertEngine engine(&rules);
    engine.set_now(At(24 * 60));
    std::vector<Alert> fired;
    for (size_t i = 0; i < minutes.size(); ++i) {
      engine.Observe(kIp, At(minutes[i]), "c", "update", fired);
      engine.Observe("198.51.100.1", At(minutes[i]), "c", "update", fired);
      ASSERT_EQ(fired.size(), i < 100 ? 0u : 2u) << "event " << i;
    }
    EXPECT_EQ(fired[0].window_end, At(minutes.back() + 1));
    EXPECT_EQ(fired[0].count, 101);
  }
}

TEST_F(AlertEngineTest, QuietDuringCooldownThenFiresAgain) {
  Feed(kIp, 600, 101);
  ASSERT_EQ(fired_.size(), 1u);

  for (int64_t m = 601; m < 660; ++m) {
    Feed(kIp, m, 50);
  }
  EXPECT_EQ(fired_.size(), 1u) << "cooling down until minute 660";

  Feed(kIp, 660, 1);
  ASSERT_EQ(fired_.size(), 2u);
  EXPECT_EQ(fired_[1].window_start, At(601));
  EXPECT_EQ(fired_[1].window_end, At(661));
  EXPECT_EQ(fired_[1].count, 59 * 50 + 1);
  EXPECT_EQ(fired_[1].id, "suspicious_ip:203.0.113.7:2026-12-03T10:01:00.000Z");
}

TEST_F(AlertEngineTest, NoRepeatAfterCooldownOnceTrafficHasStopped) {
  Feed(kIp, 600, 101);
  Feed(kIp, 660, 100);
  Feed(kIp, 720, 100);
  EXPECT_EQ(fired_.size(), 1u);
}

TEST_F(AlertEngineTest, LoginBurstFiresOnTheTwentiethLoginInTenMinutes) {
  for (int i = 0; i < 19; ++i) {
    engine_.Observe(kIp, At(600 + i / 2), "directus_users", "login", fired_);
  }
  EXPECT_TRUE(fired_.empty());

  engine_.Observe(kIp, At(609, 30), "directus_users", "login", fired_);
  ASSERT_EQ(fired_.size(), 1u);
  const Alert& a = fired_[0];
  EXPECT_EQ(a.rule, "login_burst");
  EXPECT_EQ(a.count, 20);
  EXPECT_EQ(a.threshold, 20);
  EXPECT_EQ(a.window_start, At(600));
  EXPECT_EQ(a.window_end, At(610));
  EXPECT_EQ(a.id, "login_burst:203.0.113.7:2026-12-03T10:00:00.000Z");
  EXPECT_EQ(a.first_seen, At(600));
  EXPECT_EQ(a.last_seen, At(609, 30));

  Feed(kIp, 615, 30, "login", "directus_users");
  EXPECT_EQ(fired_.size(), 1u) << "login_burst cools down too";
}

TEST_F(AlertEngineTest, LoginsSpreadPastTheWindowOrOtherActionsDoNotBurst) {
  Feed(kIp, 600, 19, "login", "directus_users");
  Feed(kIp, 610, 19, "login", "directus_users");
  Feed(kIp, 610, 50, "logout", "directus_users");
  Feed(kIp, 610, 5, "Login", "directus_users");
  EXPECT_TRUE(fired_.empty());

  Feed(kIp, 610, 1, "login", "directus_users");
  ASSERT_EQ(fired_.size(), 1u);
  EXPECT_EQ(fired_[0].rule, "login_burst");
  EXPECT_EQ(fired_[0].window_start, At(601));
}

TEST_F(AlertEngineTest, TrafficThatNeverExceedsAnyWindowNeverFires) {
  struct Shape {
    const char* name;
    int64_t every_min;  // a group of events every this many minutes
    int per_group;
    const char* action;
  };
  const Shape shapes[] = {
      {"5 every 3 minutes: exactly 100 per hour", 3, 5, "update"},
      {"100 every hour on the hour", 60, 100, "update"},
      {"one a minute", 1, 1, "update"},
      {"19 logins every 12 minutes", 12, 19, "login"},
  };
  for (const Shape& s : shapes) {
    SCOPED_TRACE(s.name);
    std::string ip = std::string("10.9.8.") + std::to_string(s.every_min);
    for (int64_t m = 0; m < 12 * 60; m += s.every_min) {
      Feed(ip, m, s.per_group, s.action);
    }
    EXPECT_TRUE(fired_.empty()) << fired_[0].id;
  }
}

// In-order streams against a direct count: an alert exactly when a
// window ending at an event's minute first holds more than 100, then
// not again before the cooldown ends.
TEST_F(AlertEngineTest, RandomStreamsFireExactlyWhenTheReferenceSays) {
  for (uint64_t seed : {1, 2, 3, 4, 5, 6, 7, 8}) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    std::mt19937_64 rng(seed);
    AlertRules rules;
    AlertEngine engine(&rules);
    engine.set_now(At(24 * 60));
    std::vector<Alert> fired;

    std::map<int64_t, int64_t> per_minute;
    int64_t until = INT64_MIN;
    std::vector<std::pair<int64_t, int64_t>> want;  // window end, count
    for (int64_t m = 0; m < 16 * 60; ++m) {
      // About 90 an hour, plus a burst of 30 every ~40 minutes.
      int n = static_cast<int>(rng() % 4) + (rng() % 40 == 0 ? 30 : 0);
      for (int i = 0; i < n; ++i) {
        engine.Observe(kIp, At(m, i % 60), "c", "update", fired);
        ++per_minute[m];
        int64_t sum = 0;
        for (auto it = per_minute.lower_bound(m - 59); it != per_minute.end();
             ++it) {
          sum += it->second;
        }
        if (m >= until && sum > 100) {
          want.emplace_back(At(m + 1), sum);
          until = m + 60;
        }
        ASSERT_EQ(fired.size(), want.size()) << "minute " << m;
      }
    }
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(fired[i].window_end, want[i].first);
      EXPECT_EQ(fired[i].count, want[i].second);
    }
    EXPECT_GT(want.size(), 0u) << "the seed should produce some alerts";
  }
}

TEST_F(AlertEngineTest, LateEventsInsideTheWindowCount) {
  Feed(kIp, 600, 50);
  Feed(kIp, 570, 50);  // late, but inside the window ending at 600
  EXPECT_TRUE(fired_.empty());
  Feed(kIp, 600, 1);
  ASSERT_EQ(fired_.size(), 1u);
  EXPECT_EQ(fired_[0].count, 101);
}

TEST_F(AlertEngineTest, LateEventThatCompletesAWindowFires) {
  Feed(kIp, 600, 100);
  Feed(kIp, 541, 1);  // the 101st of the window 541..600
  ASSERT_EQ(fired_.size(), 1u);
  EXPECT_EQ(fired_[0].count, 101);
  EXPECT_EQ(fired_[0].window_start, At(541));
  EXPECT_EQ(fired_[0].window_end, At(601));
  EXPECT_EQ(fired_[0].first_seen, At(541));
}

TEST_F(AlertEngineTest, EventsOlderThanEveryWindowAreIgnored) {
  Feed(kIp, 600, 100);
  Feed(kIp, 540, 50);  // 60 minutes before: in no window that ends at 600
  Feed(kIp, 100, 50);
  EXPECT_TRUE(fired_.empty());

  Feed(kIp, 600, 1);
  ASSERT_EQ(fired_.size(), 1u);
  EXPECT_EQ(fired_[0].count, 101);
  EXPECT_EQ(fired_[0].first_seen, At(600));
}

TEST_F(AlertEngineTest, AllowListedAddressesNeverFire) {
  for (const char* range :
       {"203.0.113.0/24", "2001:db8::/32", "198.51.100.7", "::1"}) {
    auto r = IpRange::Parse(range);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    rules_.allow.push_back(*r);
  }
  const char* allowed[] = {"203.0.113.9",    "203.0.113.9:5678",
                           "2001:db8::1",    "[2001:db8:0:1::5]:443",
                           "198.51.100.7",   "198.51.100.7:80",
                           "0:0:0:0:0:0:0:1"};
  for (const char* ip : allowed) {
    SCOPED_TRACE(ip);
    Feed(ip, 600, 300, "login");
    EXPECT_TRUE(fired_.empty());
  }
  std::vector<IpChange> changes;
  engine_.TakeChanges(changes);
  EXPECT_TRUE(changes.empty()) << "allowed IPs keep no state";

  Feed("198.51.100.8", 600, 101);
  EXPECT_EQ(fired_.size(), 1u) << "a neighbour is not allowed";
}

TEST_F(AlertEngineTest, AlertDescribesWhatTheWindowHeld) {
  engine_.Observe(kIp, At(500), "old", "old", fired_);  // before the window
  const std::pair<const char*, int> collections[] = {
      {"articles", 40}, {"pages", 30}, {"users", 15}, {"files", 8},
      {"flows", 5},     {"roles", 2},  {"x", 1}};
  const char* actions[] = {"update", "update", "create", "delete"};
  int i = 0;
  for (const auto& [name, n] : collections) {
    for (int k = 0; k < n; ++k, ++i) {
      int64_t minute = 545 + i * 55 / 100;
      engine_.Observe(kIp, At(minute, 7 + i % 50), name, actions[i % 4],
                      fired_);
    }
  }
  ASSERT_EQ(fired_.size(), 1u);
  const Alert& a = fired_[0];

  using Counts = std::vector<std::pair<std::string, int64_t>>;
  EXPECT_EQ(a.count, 101);
  EXPECT_EQ(a.collections, 7);
  EXPECT_EQ(a.top_collections, (Counts{{"articles", 40},
                                       {"pages", 30},
                                       {"users", 15},
                                       {"files", 8},
                                       {"flows", 5}}));
  EXPECT_EQ(a.top_actions,
            (Counts{{"update", 51}, {"create", 25}, {"delete", 25}}));
  EXPECT_EQ(a.first_seen, At(545, 7));
  EXPECT_EQ(a.last_seen, At(545 + 100 * 55 / 100, 7 + 100 % 50));
}

TEST_F(AlertEngineTest, AlertJsonCarriesEveryField) {
  Feed(kIp, 600, 101, "update", "articles \"q\"");
  ASSERT_EQ(fired_.size(), 1u);
  std::string json;
  fired_[0].AppendJson(json);

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  EXPECT_EQ(doc["id"].get_string().value(), fired_[0].id);
  EXPECT_EQ(doc["rule"].get_string().value(), "suspicious_ip");
  EXPECT_EQ(doc["ip"].get_string().value(), kIp);
  EXPECT_EQ(doc["window_start"].get_string().value(),
            "2026-12-03T09:01:00.000Z");
  EXPECT_EQ(doc["window_end"].get_string().value(), "2026-12-03T10:01:00.000Z");
  EXPECT_EQ(doc["activity_count"].get_int64().value(), 101);
  EXPECT_EQ(doc["threshold"].get_int64().value(), 100);
  EXPECT_EQ(doc["collections_accessed"].get_int64().value(), 1);
  simdjson::dom::element top = doc["top_collections"].at(0);
  EXPECT_EQ(top["collection"].get_string().value(), "articles \"q\"");
  EXPECT_EQ(top["count"].get_int64().value(), 101);
  EXPECT_EQ(doc["top_actions"].at(0)["action"].get_string().value(), "update");
  EXPECT_EQ(doc["first_seen"].get_string().value(), "2026-12-03T10:00:00.000Z");
  EXPECT_EQ(doc["last_seen"].get_string().value(), "2026-12-03T10:00:59.000Z");
}

}  // namespace
}  // namespace pulse::aggregator
