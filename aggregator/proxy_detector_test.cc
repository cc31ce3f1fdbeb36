// ProxyDetector on explicit time points: a window's verdict, and a fresh
// count in the next window.

#include "aggregator/proxy_detector.h"

#include <gtest/gtest.h>

#include <string>

namespace pulse::aggregator {
namespace {

using std::chrono::seconds;
using TimePoint = std::chrono::steady_clock::time_point;

// Far from the clock's zero, which the detector reads as "not started".
const TimePoint kStart = TimePoint() + std::chrono::hours(1000);

void ObserveMany(ProxyDetector& d, std::string_view ip, int n) {
  for (int i = 0; i < n; ++i) {
    d.Observe(ip);
  }
}

struct Case {
  const char* name;
  const char* busiest;
  int busiest_events;
  int other_events;  // spread over other, public addresses
  bool suspected;
};

TEST(ProxyDetectorTest, FlagsOnlyABusyPrivateAddressWithEnoughTraffic) {
  const Case cases[] = {
      {"private, exactly the share", "10.0.0.5", 500, 500, true},
      {"private, most traffic", "172.17.0.1", 900, 100, true},
      {"private with a port", "192.168.1.1:34567", 800, 200, true},
      {"loopback v6", "::1", 1000, 0, true},
      {"private, just under the share", "10.0.0.5", 499, 501, false},
      {"public address", "203.0.113.7", 1000, 0, false},
      {"not an address", "not-an-ip", 1000, 0, false},
      {"below min_events", "10.0.0.5", 999, 0, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ProxyDetector d(/*share_percent=*/50, /*min_events=*/1000, seconds(60));
    EXPECT_FALSE(d.Evaluate(kStart).has_value()) << "the window starts";

    ObserveMany(d, c.busiest, c.busiest_events);
    for (int i = 0; i < c.other_events; ++i) {
      d.Observe("198.51.100." + std::to_string(i % 200));
    }
    EXPECT_FALSE(d.Evaluate(kStart + seconds(59)).has_value());

    auto v = d.Evaluate(kStart + seconds(60));
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(v->ip, c.busiest);
    EXPECT_EQ(v->events, c.busiest_events + c.other_events);
    EXPECT_EQ(v->share_percent,
              c.busiest_events * 100 / (c.busiest_events + c.other_events));
    EXPECT_EQ(d.suspected(), c.suspected);
  }
}

TEST(ProxyDetectorTest, EachWindowCountsAfresh) {
  ProxyDetector d(50, 100, seconds(60));
  d.Evaluate(kStart);
  ObserveMany(d, "10.0.0.5", 100);
  ASSERT_TRUE(d.Evaluate(kStart + seconds(60)).has_value());
  EXPECT_TRUE(d.suspected());

  // The next window runs from the last verdict: 60 s more, and the
  // private address is now a minority.
  ObserveMany(d, "10.0.0.5", 40);
  ObserveMany(d, "203.0.113.7", 60);
  EXPECT_FALSE(d.Evaluate(kStart + seconds(119)).has_value());
  auto v = d.Evaluate(kStart + seconds(120));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->events, 100) << "the first window's events are gone";
  EXPECT_EQ(v->ip, "203.0.113.7");
  EXPECT_FALSE(d.suspected());

  // An empty window clears the verdict without a division by zero.
  auto empty = d.Evaluate(kStart + seconds(180));
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->events, 0);
  EXPECT_EQ(empty->share_percent, 0);
  EXPECT_FALSE(d.suspected());
}

TEST(ProxyDetectorTest, LateEvaluationJudgesTheWholeElapsedWindow) {
  ProxyDetector d(50, 10, seconds(60));
  d.Evaluate(kStart);
  ObserveMany(d, "10.0.0.5", 10);
  auto v = d.Evaluate(kStart + seconds(600));
  ASSERT_TRUE(v.has_value());
  EXPECT_TRUE(d.suspected());
  EXPECT_FALSE(d.Evaluate(kStart + seconds(659)).has_value())
      << "the next window starts at the verdict";
}

}  // namespace
}  // namespace pulse::aggregator
