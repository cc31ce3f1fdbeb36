#include "generate/history_rows.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace pulse::generate {
namespace {

constexpr EventTimeMs kEnd = 1'772'323'200'000;  // 2026-03-01T00:00:00Z

std::vector<EventTimeMs> Times(const TimelineOptions& o,
                               std::vector<bool>* attacker = nullptr) {
  HistoryTimeline timeline(o);
  std::vector<EventTimeMs> out;
  EventTimeMs t = 0;
  bool a = false;
  while (timeline.Next(t, a)) {
    out.push_back(t);
    if (attacker) {
      attacker->push_back(a);
    }
  }
  return out;
}

struct WindowCase {
  int64_t rows;
  int64_t span_ms;
};

void PrintTo(const WindowCase& c, std::ostream* os) {
  *os << "rows=" << c.rows << " span_ms=" << c.span_ms;
}

class TimelineWindowTest : public ::testing::TestWithParam<WindowCase> {};

TEST_P(TimelineWindowTest, ExactlyRowsAllInsideTheWindow) {
  const WindowCase& c = GetParam();
  TimelineOptions o;
  o.seed = 17;
  o.rows = c.rows;
  o.start = kEnd - c.span_ms;
  o.end = kEnd;
  SCOPED_TRACE(::testing::Message() << "seed=" << o.seed);
  auto times = Times(o);
  ASSERT_EQ(static_cast<int64_t>(times.size()), c.rows);
  for (EventTimeMs t : times) {
    ASSERT_GE(t, o.start);
    ASSERT_LT(t, o.end);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Windows, TimelineWindowTest,
    ::testing::Values(WindowCase{0, kMsPerDay}, WindowCase{1, kMsPerDay},
                      WindowCase{1000, 1000}, WindowCase{5000, kMsPerHour},
                      WindowCase{100'000, 30 * kMsPerDay},
                      WindowCase{10'000, 3650 * kMsPerDay}));

TEST(TimelineTest, TimesAscendInIdOrderUpToASmallJitter) {
  TimelineOptions o;
  o.seed = 3;
  o.rows = 200'000;
  o.start = kEnd - 2 * kMsPerDay;
  o.end = kEnd;
  SCOPED_TRACE(::testing::Message() << "seed=" << o.seed);
  auto times = Times(o);
  EventTimeMs newest = times[0];
  int inversions = 0;
  for (size_t i = 1; i < times.size(); ++i) {
    ASSERT_GE(times[i], newest - 2 * kMaxJitterMs) << "row " << i;
    inversions += times[i] < times[i - 1];
    newest = std::max(newest, times[i]);
  }
  EXPECT_GT(inversions, 0) << "id order and time order differ slightly";
  EXPECT_LT(inversions, static_cast<int>(times.size() / 4));
}

TEST(TimelineTest, WorkingHoursAreBusierThanNightsAndWeekdaysThanWeekends) {
  TimelineOptions o;
  o.seed = 5;
  o.rows = 280'000;
  o.start = kEnd - 28 * kMsPerDay;
  o.end = kEnd;
  int64_t by_hour[24] = {};
  int64_t weekend = 0;
  for (EventTimeMs t : Times(o)) {
    int64_t days = t / kMsPerDay;
    ++by_hour[(t % kMsPerDay) / kMsPerHour];
    int64_t weekday = (days + 4) % 7;
    weekend += weekday == 0 || weekday == 6;
  }
  EXPECT_GT(by_hour[14], 5 * by_hour[3]);
  // Weekends are 2/7 of the days at 0.4 of the weekday intensity.
  EXPECT_NEAR(static_cast<double>(weekend) / o.rows, 0.8 / 5.8, 0.01);
}

TEST(TimelineTest, AttackerBurstIsExactAndInsideItsWindow) {
  TimelineOptions o;
  o.seed = 9;
  o.rows = 20'000;
  o.start = kEnd - 7 * kMsPerDay;
  o.end = kEnd;
  o.attacker_rows = 300;
  o.attacker_start = kEnd - 3 * kMsPerHour;
  o.attacker_window_ms = 10 * kMsPerMinute;
  std::vector<bool> attacker;
  auto times = Times(o, &attacker);
  ASSERT_EQ(times.size(), 20'000u);
  int64_t burst = 0;
  for (size_t i = 0; i < times.size(); ++i) {
    if (!attacker[i]) {
      continue;
    }
    ++burst;
    ASSERT_GE(times[i], o.attacker_start);
    ASSERT_LT(times[i], o.attacker_start + o.attacker_window_ms);
  }
  EXPECT_EQ(burst, 300);
}

TEST(TimelineTest, BurstLargerThanRowsTakesAllRows) {
  TimelineOptions o;
  o.rows = 10;
  o.start = kEnd - kMsPerDay;
  o.end = kEnd;
  o.attacker_rows = 50;
  o.attacker_start = kEnd + kMsPerDay;  // clipped into the window
  std::vector<bool> attacker;
  auto times = Times(o, &attacker);
  ASSERT_EQ(times.size(), 10u);
  EXPECT_EQ(std::count(attacker.begin(), attacker.end(), true), 10);
  for (EventTimeMs t : times) {
    EXPECT_LT(t, kEnd);
  }
}

TEST(HistoryRowsTest, SameOptionsGiveTheSameRows) {
  GeneratorOptions g;
  g.seed = 11;
  g.attacker_ip = "203.0.113.66";
  g.hostile_fraction = 0.1;
  TimelineOptions t;
  t.seed = 11;
  t.rows = 3000;
  t.start = kEnd - kMsPerDay;
  t.end = kEnd;
  t.attacker_rows = 100;
  t.attacker_start = kEnd - kMsPerHour;
  HistoryRows a(g, t);
  HistoryRows b(g, t);
  ActivityRow ra;
  ActivityRow rb;
  int n = 0;
  while (a.Next(ra)) {
    ASSERT_TRUE(b.Next(rb));
    ASSERT_EQ(ra, rb) << "row " << n;
    ++n;
  }
  EXPECT_FALSE(b.Next(rb));
  EXPECT_EQ(n, 3000);
}

}  // namespace
}  // namespace pulse::generate
