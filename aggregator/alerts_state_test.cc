// Alert state across flushes and restarts: what TakeChanges reports, what
// a restore from it fires, expiry and the clock.

#include <gtest/gtest.h>

#include <algorithm>
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

// What flushes persist, kept as StateStore keeps it: per IP and minute the
// counts, per IP the cooldowns.
struct MemoryStore {
  std::map<std::string, std::map<int64_t, MinuteCounts>> minutes;
  std::map<std::string, std::pair<int64_t, int64_t>> cooldowns;

  void Apply(const std::vector<IpChange>& changes) {
    for (const IpChange& c : changes) {
      if (c.expired) {
        minutes.erase(c.ip);
        cooldowns.erase(c.ip);
        continue;
      }
      for (int64_t m : c.dropped) {
        minutes[c.ip].erase(m);
      }
      for (const MinuteCounts& m : c.minutes) {
        minutes[c.ip][m.minute] = m;
      }
      if (c.cooldowns) {
        cooldowns[c.ip] = *c.cooldowns;
      }
    }
  }
  void Flush(AlertEngine& engine) {
    std::vector<IpChange> changes;
    engine.TakeChanges(changes);
    Apply(changes);
  }
  void RestoreInto(AlertEngine& engine) const {
    for (const auto& [ip, by_minute] : minutes) {
      for (const auto& [m, counts] : by_minute) {
        engine.RestoreMinute(ip, counts);
      }
    }
    for (const auto& [ip, c] : cooldowns) {
      engine.RestoreCooldowns(ip, c.first, c.second);
    }
  }
};

TEST(AlertStateTest, RestoredStateFiresTheSameAlerts) {
  for (uint64_t seed : {1, 2, 3, 4}) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    AlertRules rules;
    std::vector<Event> events = Stream(seed);

    AlertEngine whole(&rules);
    whole.set_now(At(24 * 60));
    std::vector<std::string> want = Feed(whole, events, 0, events.size());

    // Half, flushed now and then as the aggregator does, then restored
    // from what the flushes persisted into a new engine.
    AlertEngine first(&rules);
    first.set_now(At(24 * 60));
    MemoryStore store;
    size_t half = events.size() / 2;
    std::vector<std::string> got;
    for (size_t at = 0; at < half; at += 500) {
      for (std::string& a : Feed(first, events, at, std::min(at + 500, half))) {
        got.push_back(std::move(a));
      }
      store.Flush(first);
    }

    AlertEngine second(&rules);
    second.set_now(At(24 * 60));
    store.RestoreInto(second);
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
  MemoryStore store;
  store.Flush(engine);

  AlertEngine restored(&rules);
  restored.set_now(At(24 * 60));
  store.RestoreInto(restored);
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
  MemoryStore store;
  store.Flush(engine);
  ASSERT_EQ(store.cooldowns.count("1.2.3.4"), 1u);

  AlertEngine restored(&rules);
  restored.set_now(At(24 * 60));
  store.RestoreInto(restored);
  for (int i = 0; i < 200; ++i) {
    restored.Observe("1.2.3.4", At(601), "c", "update", fired);
  }
  EXPECT_EQ(fired.size(), 1u) << "still cooling down until minute 660";
  restored.Observe("1.2.3.4", At(660), "c", "update", fired);
  EXPECT_EQ(fired.size(), 2u);
}

TEST(AlertStateTest, ChangesCarryOnlyTheMinutesTouched) {
  AlertRules rules;
  AlertEngine engine(&rules);
  engine.set_now(At(24 * 60));
  std::vector<Alert> fired;
  engine.Observe("1.2.3.4", At(600, 1), "c", "update", fired);
  engine.Observe("1.2.3.4", At(601, 2), "c", "login", fired);
  std::vector<IpChange> changes;
  engine.TakeChanges(changes);
  ASSERT_EQ(changes.size(), 1u);
  ASSERT_EQ(changes[0].minutes.size(), 2u);

  // Another event in minute 601 only rewrites minute 601.
  engine.Observe("1.2.3.4", At(601, 30), "c", "update", fired);
  changes.clear();
  engine.TakeChanges(changes);
  ASSERT_EQ(changes.size(), 1u);
  ASSERT_EQ(changes[0].minutes.size(), 1u);
  const MinuteCounts& m = changes[0].minutes[0];
  EXPECT_EQ(m.minute, FloorTo(At(601), kMsPerMinute) / kMsPerMinute);
  EXPECT_EQ(m.count, 2);
  EXPECT_EQ(m.logins, 1);
  EXPECT_EQ(m.first, At(601, 2));
  EXPECT_EQ(m.last, At(601, 30));
  EXPECT_FALSE(changes[0].cooldowns.has_value());
}

TEST(AlertStateTest, MinutesOutsideEveryWindowAreReportedDropped) {
  AlertRules rules;
  AlertEngine engine(&rules);
  engine.set_now(At(24 * 60));
  std::vector<Alert> fired;
  engine.Observe("1.2.3.4", At(600), "c", "update", fired);
  engine.Observe("1.2.3.4", At(605), "c", "update", fired);
  std::vector<IpChange> changes;
  engine.TakeChanges(changes);

  // Minute 665 leaves the 60-minute window of 600 and 605 behind.
  engine.Observe("1.2.3.4", At(665), "c", "update", fired);
  changes.clear();
  engine.TakeChanges(changes);
  ASSERT_EQ(changes.size(), 1u);
  std::vector<int64_t> want = {FloorTo(At(600), kMsPerMinute) / kMsPerMinute,
                               FloorTo(At(605), kMsPerMinute) / kMsPerMinute};
  EXPECT_EQ(changes[0].dropped, want);
}

class TakeChangesTest : public ::testing::Test {
 protected:
  TakeChangesTest() { engine_.set_now(At(24 * 60)); }

  void Observe(std::string_view ip, EventTimeMs t) {
    engine_.Observe(ip, t, "c", "update", fired_);
  }
  std::map<std::string, IpChange> Take() {
    std::vector<IpChange> changes;
    engine_.TakeChanges(changes);
    std::map<std::string, IpChange> out;
    for (IpChange& c : changes) {
      std::string ip = c.ip;
      EXPECT_TRUE(out.emplace(ip, std::move(c)).second)
          << ip << " reported twice";
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
  for (const auto& [ip, change] : changes) {
    EXPECT_FALSE(change.expired) << ip;
    EXPECT_FALSE(change.minutes.empty()) << ip;
  }
  EXPECT_TRUE(Take().empty()) << "nothing changed since";

  Observe("b", At(602));
  EXPECT_EQ(Take().size(), 1u);
}

TEST_F(TakeChangesTest, ExpiredIpsAreReportedExpired) {
  Observe("a", At(600));
  Take();

  // Quiet past its window (60) and cooldown (60), in event time.
  Observe("b", At(720));
  EXPECT_EQ(Take().count("a"), 0u) << "minute 720 is not past the horizon";

  Observe("b", At(721));
  auto changes = Take();
  ASSERT_EQ(changes.count("a"), 1u);
  EXPECT_TRUE(changes["a"].expired);
  EXPECT_FALSE(changes["b"].expired);
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

// An IP allowed after its windows were persisted: it observes nothing
// more, and its persisted pieces are dropped once they expire.
TEST_F(TakeChangesTest, IpAllowedAfterARestartDropsItsRestoredPieces) {
  auto range = IpRange::Parse("203.0.113.0/24");
  ASSERT_TRUE(range.ok());
  rules_.allow.push_back(*range);
  engine_.set_now(At(600));
  engine_.RestoreMinute("203.0.113.5", {.minute = At(599) / 60'000,
                                        .count = 100,
                                        .logins = 0,
                                        .first = At(599),
                                        .last = At(599, 30)});
  for (int i = 0; i < 5; ++i) {
    Observe("203.0.113.5", At(600));
    Observe("203.0.113.6", At(600));
  }
  EXPECT_TRUE(fired_.empty()) << "an allowed IP never fires";
  EXPECT_TRUE(Take().empty()) << "nothing observed, nothing expired yet";

  // Event time moves on (expiry follows it) through another IP.
  engine_.set_now(At(800));
  Observe("198.51.100.1", At(800));
  auto changes = Take();
  EXPECT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes.count("203.0.113.6"), 0u);
  ASSERT_EQ(changes.count("203.0.113.5"), 1u);
  EXPECT_TRUE(changes["203.0.113.5"].expired);
  EXPECT_TRUE(Take().empty()) << "reported once";
}

// Collection names are whatever clients send. A stream of new names (here
// 100 a minute, one per noise IP) must not grow the engine's name pool
// without bound, and an alert whose window spans a rebuild of the pool
// must still name its collections right.
TEST(AlertNamesTest, NamePoolStaysBoundedAndAlertsKeepTheirNames) {
  AlertRules rules;
  AlertEngine engine(&rules);
  std::vector<Alert> fired;
  std::vector<IpChange> changes;
  constexpr std::string_view kAttacker = "203.0.113.66";
  // The attacker's collection changes every 10 minutes, so names held
  // across a rebuild were interned both before and after it.
  auto attacker_collection = [](int64_t minute) {
    return "a-" + std::to_string(minute / 10);
  };

  int64_t rebuilt_at = -1, burst_at = -1;
  size_t peak = 0, last = 0, names = 0;
  for (int64_t m = 0; m < 300; ++m) {
    engine.set_now(At(m, 59));
    for (int k = 0; k < 100; ++k) {
      engine.Observe("10.0.1." + std::to_string(k), At(m, k % 60),
                     "noise-" + std::to_string(names++), "create", fired);
    }
    // One event a minute; 30 minutes after a rebuild, 42 more, which
    // make a window of 101.
    if (burst_at < 0 || m < burst_at) {
      engine.Observe(kAttacker, At(m), attacker_collection(m), "update", fired);
    } else if (m == burst_at) {
      for (int i = 0; i < 42; ++i) {
        engine.Observe(kAttacker, At(m, i), "burst", "update", fired);
      }
    }
    engine.TakeChanges(changes);
    changes.clear();
    size_t now = engine.name_count();
    if (now < last && m > 150 && rebuilt_at < 0) {
      rebuilt_at = m;
      burst_at = m + 30;
    }
    last = now;
    peak = std::max(peak, now);
  }

  // 30,000 names seen, about 6,000 in the windows at any time.
  EXPECT_GT(rebuilt_at, 0) << "the pool was never rebuilt";
  EXPECT_LT(peak, 15'000u) << names << " names seen";
  ASSERT_EQ(fired.size(), 1u);
  const Alert& a = fired[0];
  EXPECT_EQ(a.ip, kAttacker);
  EXPECT_EQ(a.count, 101);
  EXPECT_EQ(a.window_end, At(burst_at + 1));

  // What the window held, busiest first, ties by name.
  std::map<std::string, int64_t> held{{"burst", 42}};
  for (int64_t m = burst_at - 59; m < burst_at; ++m) {
    held[attacker_collection(m)] += 1;
  }
  std::vector<std::pair<std::string, int64_t>> top(held.begin(), held.end());
  std::stable_sort(top.begin(), top.end(), [](const auto& x, const auto& y) {
    return x.second > y.second;
  });
  top.resize(5);
  EXPECT_EQ(a.collections, static_cast<int64_t>(held.size()));
  EXPECT_EQ(a.top_collections, top);
  using Counts = std::vector<std::pair<std::string, int64_t>>;
  EXPECT_EQ(a.top_actions, (Counts{{"update", 101}}));
}

}  // namespace
}  // namespace pulse::aggregator
