// Alert state across flushes and restarts: Serialize/Deserialize,
// AlertEngine::Load, TakeChanges, expiry and the clock.

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "aggregator/alerts.h"

namespace pulse::aggregator {
namespace {

constexpr EventTimeMs kMidnight = 1796256000000;  // 2026-12-03T00:00:00Z

EventTimeMs At(int64_t minute, int64_t second = 0) {
  return kMidnight + minute * 60'000 + second * 1000;
}

struct Event {
  std::string ip;
  EventTimeMs time;
  std::string collection;
  std::string action;
};

// Several IPs over six hours: noise, bursts and login storms, mostly in
// order with some events a few minutes late.
std::vector<Event> Stream(uint64_t seed) {
  const char* ips[] = {"203.0.113.1", "203.0.113.2", "2001:db8::3", "not-an-ip",
                       "198.51.100.4"};
  const char* actions[] = {"update", "create", "login", "delete"};
  std::mt19937_64 rng(seed);
  std::vector<Event> events;
  for (int64_t m = 0; m < 6 * 60; ++m) {
    for (const char* ip : ips) {
      int n = static_cast<int>(rng() % 3) + (rng() % 25 == 0 ? 60 : 0);
      for (int i = 0; i < n; ++i) {
        int64_t late = rng() % 10 == 0 ? static_cast<int64_t>(rng() % 5) : 0;
        events.push_back({ip, At(m - late, static_cast<int64_t>(rng() % 60)),
                          "c" + std::to_string(rng() % 7), actions[rng() % 4]});
      }
    }
  }
  return events;
}

// What must survive a restore: which alerts fire, with what counts and
// windows. (Names behind the detail are not persisted; see alerts.h.)
std::vector<std::string> Feed(AlertEngine& engine,
                              const std::vector<Event>& events, size_t from,
                              size_t to) {
  std::vector<Alert> fired;
  for (size_t i = from; i < to; ++i) {
    const Event& e = events[i];
    engine.Observe(e.ip, e.time, e.collection, e.action, fired);
  }
  std::vector<std::string> out;
  for (const Alert& a : fired) {
    out.push_back(a.id + " count=" + std::to_string(a.count) +
                  " first=" + std::to_string(a.first_seen) +
                  " last=" + std::to_string(a.last_seen));
  }
  return out;
}

TEST(AlertStateTest, RestoredStateFiresTheSameAlerts) {
  for (uint64_t seed : {1, 2, 3, 4}) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    AlertRules rules;
    std::vector<Event> events = Stream(seed);

    AlertEngine whole(&rules);
    whole.set_now(At(24 * 60));
    std::vector<std::string> want = Feed(whole, events, 0, events.size());

    // Half, then the state as a flush would persist it, into a new engine.
    AlertEngine first(&rules);
    first.set_now(At(24 * 60));
    size_t half = events.size() / 2;
    std::vector<std::string> got = Feed(first, events, 0, half);
    std::vector<AlertEngine::Change> changes;
    first.TakeChanges(changes);

    AlertEngine second(&rules);
    second.set_now(At(24 * 60));
    for (const auto& [ip, state] : changes) {
      if (state) {
        ASSERT_TRUE(second.Load(ip, *state).ok()) << ip;
      }
    }
    for (std::string& a : Feed(second, events, half, events.size())) {
      got.push_back(std::move(a));
    }

    EXPECT_GT(want.size(), 4u) << "the stream should fire alerts";
    EXPECT_EQ(got, want);
  }
}

TEST(AlertStateTest, AlertsOverRestoredMinutesSayTheirDetailIsPartial) {
  AlertRules rules;
  AlertEngine engine(&rules);
  engine.set_now(At(24 * 60));
  std::vector<Alert> fired;
  for (int i = 0; i < 60; ++i) {
    engine.Observe("1.2.3.4", At(600), "c" + std::to_string(i % 4), "update",
                   fired);
  }
  std::vector<AlertEngine::Change> changes;
  engine.TakeChanges(changes);

  AlertEngine restored(&rules);
  restored.set_now(At(24 * 60));
  ASSERT_TRUE(restored.Load("1.2.3.4", *changes[0].second).ok());
  for (int i = 0; i < 41; ++i) {
    restored.Observe("1.2.3.4", At(601), "c9", "update", fired);
  }
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].count, 101);
  EXPECT_FALSE(fired[0].detail_complete);
  EXPECT_EQ(fired[0].collections, 1) << "only the names seen since";

  // Without a restore the same stream has the whole detail.
  AlertEngine whole(&rules);
  whole.set_now(At(24 * 60));
  std::vector<Alert> again;
  for (int i = 0; i < 60; ++i) {
    whole.Observe("1.2.3.4", At(600), "c" + std::to_string(i % 4), "update",
                  again);
  }
  for (int i = 0; i < 41; ++i) {
    whole.Observe("1.2.3.4", At(601), "c9", "update", again);
  }
  ASSERT_EQ(again.size(), 1u);
  EXPECT_TRUE(again[0].detail_complete);
  EXPECT_EQ(again[0].collections, 5);
}

TEST(AlertStateTest, CooldownSurvivesARestart) {
  AlertRules rules;
  AlertEngine engine(&rules);
  engine.set_now(At(24 * 60));
  std::vector<Alert> fired;
  for (int i = 0; i < 101; ++i) {
    engine.Observe("1.2.3.4", At(600), "c", "update", fired);
  }
  ASSERT_EQ(fired.size(), 1u);
  std::vector<AlertEngine::Change> changes;
  engine.TakeChanges(changes);
  ASSERT_EQ(changes.size(), 1u);

  AlertEngine restored(&rules);
  restored.set_now(At(24 * 60));
  ASSERT_TRUE(restored.Load("1.2.3.4", *changes[0].second).ok());
  for (int i = 0; i < 200; ++i) {
    restored.Observe("1.2.3.4", At(601), "c", "update", fired);
  }
  EXPECT_EQ(fired.size(), 1u) << "still cooling down until minute 660";
  restored.Observe("1.2.3.4", At(660), "c", "update", fired);
  EXPECT_EQ(fired.size(), 2u);
}

std::string SomeState() {
  AlertRules rules;
  IpActivity a;
  std::vector<Alert> fired;
  for (int i = 0; i < 150; ++i) {
    a.Observe("1.2.3.4", At(600 + i % 7, i % 60), "c" + std::to_string(i % 3),
              i % 5 == 0 ? "login" : "update", rules, fired);
  }
  EXPECT_FALSE(fired.empty());
  return a.Serialize();
}

TEST(AlertStateTest, SerializeRoundTripsExactly) {
  std::string bytes = SomeState();
  auto a = IpActivity::Deserialize(bytes);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->Serialize(), bytes);
}

TEST(AlertStateTest, DeserializeRejectsTruncatedBytes) {
  std::string bytes = SomeState();
  for (size_t n = 0; n < bytes.size(); ++n) {
    SCOPED_TRACE(testing::Message() << n << " of " << bytes.size());
    auto a = IpActivity::Deserialize(bytes.substr(0, n));
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.status().code(), Status::Code::kDataLoss);
    EXPECT_NE(a.status().message().find("alert state"), std::string::npos);
  }
}

TEST(AlertStateTest, DeserializeRejectsGarbage) {
  const std::string good = SomeState();
  const std::string cases[] = {
      "hello",
      std::string("\x09", 1) + good.substr(1),  // an unknown version
      good + "x",                               // trailing bytes
      std::string("\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11),
      std::string(64, '\xff'),
  };
  for (const std::string& bytes : cases) {
    SCOPED_TRACE(testing::PrintToString(bytes.substr(0, 16)));
    EXPECT_FALSE(IpActivity::Deserialize(bytes).ok());

    AlertRules rules;
    AlertEngine engine(&rules);
    EXPECT_FALSE(engine.Load("1.2.3.4", bytes).ok());
    EXPECT_EQ(engine.size(), 0u) << "a failed load keeps nothing";
  }
}

class TakeChangesTest : public ::testing::Test {
 protected:
  TakeChangesTest() { engine_.set_now(At(24 * 60)); }

  void Observe(std::string_view ip, EventTimeMs t) {
    engine_.Observe(ip, t, "c", "update", fired_);
  }
  std::map<std::string, std::optional<std::string>> Take() {
    std::vector<AlertEngine::Change> changes;
    engine_.TakeChanges(changes);
    std::map<std::string, std::optional<std::string>> out;
    for (auto& [ip, state] : changes) {
      EXPECT_TRUE(out.emplace(ip, state).second) << ip << " reported twice";
    }
    return out;
  }

  AlertRules rules_;
  AlertEngine engine_{&rules_};
  std::vector<Alert> fired_;
};

TEST_F(TakeChangesTest, ReportsEachChangedIpOnce) {
  Observe("a", At(600));
  Observe("b", At(600));
  Observe("a", At(601));
  auto changes = Take();
  ASSERT_EQ(changes.size(), 2u);
  for (const auto& [ip, state] : changes) {
    ASSERT_TRUE(state.has_value()) << ip;
    EXPECT_TRUE(IpActivity::Deserialize(*state).ok());
  }
  EXPECT_TRUE(Take().empty()) << "nothing changed since";

  Observe("b", At(602));
  EXPECT_EQ(Take().size(), 1u);
}

TEST_F(TakeChangesTest, ExpiredIpsAreReportedAsNullopt) {
  Observe("a", At(600));
  Take();

  // Quiet past its window (60) and cooldown (60), in event time.
  Observe("b", At(720));
  EXPECT_EQ(Take().count("a"), 0u) << "minute 720 is not past the horizon";

  Observe("b", At(721));
  auto changes = Take();
  ASSERT_EQ(changes.count("a"), 1u);
  EXPECT_FALSE(changes["a"].has_value());
  EXPECT_TRUE(changes["b"].has_value());
  EXPECT_EQ(engine_.size(), 1u);
  EXPECT_TRUE(Take().empty()) << "reported once";
}

TEST_F(TakeChangesTest, ExpiryNeverRunsAheadOfTheClock) {
  engine_.set_now(At(700));
  Observe("a", At(600));
  Observe("b", At(730));  // event time runs ahead of the clock
  Take();
  EXPECT_EQ(engine_.size(), 2u) << "clock at 700 (+5 min): a still matters";

  engine_.set_now(At(800));
  auto changes = Take();
  EXPECT_EQ(changes.count("a"), 1u);
  EXPECT_EQ(engine_.size(), 1u);
}

TEST_F(TakeChangesTest, EventsMoreThanAnHourAheadOfTheClockAreIgnored) {
  engine_.set_now(At(600));
  for (int i = 0; i < 200; ++i) {
    Observe("a", At(660) + 1);
  }
  EXPECT_TRUE(fired_.empty());
  EXPECT_EQ(engine_.size(), 0u);
  EXPECT_TRUE(Take().empty());

  for (int i = 0; i < 101; ++i) {
    Observe("a", At(660));  // exactly an hour ahead still counts
  }
  EXPECT_EQ(fired_.size(), 1u);
}

}  // namespace
}  // namespace pulse::aggregator
