#include "generate/token_bucket.h"

#include <gtest/gtest.h>

namespace pulse::generate {
namespace {

using Clock = TokenBucket::Clock;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Drives a bucket on a simulated clock like the live loop does: ask when
// the next transaction is ready, "sleep" until then plus some oversleep,
// take. Returns the rows taken in `run`.
int64_t Simulate(double rate, Clock::duration run, Clock::duration oversleep,
                 int rows_per_take) {
  Clock::time_point start{};
  TokenBucket bucket(rate, std::max<double>(5, rate / 10), start);
  Clock::time_point now = start;
  int64_t taken = 0;
  while (now < start + run) {
    Clock::time_point ready = bucket.ReadyAt(rows_per_take, now);
    if (ready > now) {
      now = ready + oversleep;
      continue;
    }
    if (bucket.TryTake(rows_per_take, now)) {
      taken += rows_per_take;
    }
  }
  return taken;
}

struct RateCase {
  double rate;
  int rows_per_take;
  Clock::duration oversleep;
};

void PrintTo(const RateCase& c, std::ostream* os) {
  *os << "rate=" << c.rate << " rows=" << c.rows_per_take << " oversleep_us="
      << std::chrono::duration_cast<microseconds>(c.oversleep).count();
}

class TokenBucketRateTest : public ::testing::TestWithParam<RateCase> {};

TEST_P(TokenBucketRateTest, LongRunRateMatchesDespiteLateWakeUps) {
  const RateCase& c = GetParam();
  const auto run = seconds(100);
  int64_t taken = Simulate(c.rate, run, c.oversleep, c.rows_per_take);

  // Starting full adds one capacity; otherwise the rate holds exactly.
  double expected = c.rate * 100 + std::max<double>(5, c.rate / 10);
  EXPECT_NEAR(static_cast<double>(taken), expected,
              c.rows_per_take + expected * 0.001);
}

INSTANTIATE_TEST_SUITE_P(
    Rates, TokenBucketRateTest,
    ::testing::Values(RateCase{1, 1, milliseconds(0)},
                      RateCase{1, 5, milliseconds(3)},
                      RateCase{10, 2, milliseconds(1)},
                      RateCase{200, 3, microseconds(700)},
                      RateCase{10'000, 1, microseconds(50)},
                      RateCase{10'000, 5, microseconds(900)}));

TEST(TokenBucketTest, StallIsCaughtUpOnlyUpToCapacity) {
  Clock::time_point t0{};
  TokenBucket bucket(100, 10, t0);
  ASSERT_TRUE(bucket.TryTake(10, t0));
  EXPECT_FALSE(bucket.TryTake(1, t0));

  // A 60 s stall refills to 10 tokens, not 6000.
  Clock::time_point later = t0 + seconds(60);
  EXPECT_TRUE(bucket.TryTake(10, later));
  EXPECT_FALSE(bucket.TryTake(1, later));
}

TEST(TokenBucketTest, ReadyAtIsWhenTheTokensAreThere) {
  Clock::time_point t0{};
  TokenBucket bucket(4, 5, t0);
  ASSERT_TRUE(bucket.TryTake(5, t0));
  Clock::time_point ready = bucket.ReadyAt(2, t0);
  EXPECT_EQ(ready, t0 + milliseconds(500));
  EXPECT_FALSE(bucket.TryTake(2, ready - microseconds(1)));
  EXPECT_TRUE(bucket.TryTake(2, ready));
}

TEST(TokenBucketTest, ClockGoingBackwardsAddsNothing) {
  Clock::time_point t0 = Clock::time_point{} + seconds(10);
  TokenBucket bucket(1000, 5, t0);
  ASSERT_TRUE(bucket.TryTake(5, t0));
  EXPECT_FALSE(bucket.TryTake(1, t0 - seconds(5)));
  EXPECT_TRUE(bucket.TryTake(1, t0 + milliseconds(1)));
}

}  // namespace
}  // namespace pulse::generate
