#include "generate/random.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>

namespace pulse::generate {
namespace {

TEST(RandomTest, Mix64MatchesSplitMix64Reference) {
  // The first output of the reference splitmix64 generator seeded with 0.
  EXPECT_EQ(Mix64(0), 0xe220a8397b1dcdafULL);
}

TEST(RandomTest, SameSeedSameSequenceOtherSeedOther) {
  Rng a(7);
  Rng b(7);
  Rng c(8);
  int differ = 0;
  for (int i = 0; i < 1000; ++i) {
    uint64_t x = a.Next();
    EXPECT_EQ(x, b.Next());
    differ += x != c.Next();
  }
  EXPECT_EQ(differ, 1000);
}

TEST(RandomTest, NextMatchesXoshiro256StarStarReference) {
  // Published outputs of xoshiro256** from the state {1, 2, 3, 4}.
  Rng rng = Rng::FromState(1, 2, 3, 4);
  EXPECT_EQ(rng.Next(), 11520u);
  EXPECT_EQ(rng.Next(), 0u);
  EXPECT_EQ(rng.Next(), 1509978240u);
  EXPECT_EQ(rng.Next(), 1215971899390074240u);
}

TEST(RandomTest, SeededSequenceIsPinned) {
  // Generated data everywhere depends on these numbers: a change here
  // changes every row a seed produces.
  Rng rng(1);
  EXPECT_EQ(rng.Next(), 12966619160104079557ULL);
  EXPECT_EQ(rng.Next(), 9600361134598540522ULL);
}

TEST(RandomTest, BelowAndUnitStayInRange) {
  Rng rng(3);
  for (uint32_t n : {1u, 2u, 7u, 1000u, 4294967295u}) {
    SCOPED_TRACE(n);
    for (int i = 0; i < 10000; ++i) {
      ASSERT_LT(rng.Below(n), n);
    }
  }
  for (int i = 0; i < 10000; ++i) {
    double u = rng.Unit();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
}

struct SamplerCase {
  const char* name;
  std::vector<double> weights;
};

void PrintTo(const SamplerCase& c, std::ostream* os) { *os << c.name; }

class WeightedSamplerTest : public ::testing::TestWithParam<SamplerCase> {};

TEST_P(WeightedSamplerTest, FrequenciesFollowWeights) {
  const auto& w = GetParam().weights;
  const uint64_t seed = 11;
  SCOPED_TRACE(::testing::Message() << "seed=" << seed);
  WeightedSampler sampler(w);
  Rng rng(seed);
  const int draws = 400'000;
  std::vector<int> counts(w.size());
  for (int i = 0; i < draws; ++i) {
    ++counts[sampler.Sample(rng)];
  }
  double sum = 0;
  for (double x : w) {
    sum += x;
  }
  for (size_t i = 0; i < w.size(); ++i) {
    SCOPED_TRACE(i);
    double expected = w[i] / sum;
    double got = static_cast<double>(counts[i]) / draws;
    EXPECT_NEAR(got, expected, 0.005);
    if (w[i] == 0) {
      EXPECT_EQ(counts[i], 0) << "a zero weight is never drawn";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, WeightedSamplerTest,
    ::testing::Values(SamplerCase{"One", {1}}, SamplerCase{"TwoEqual", {1, 1}},
                      SamplerCase{
                          "Actions",
                          {30, 45, 5, 10, 5, 3.5, 0.6, 0.3, 0.3, 0.2, 0.1}},
                      SamplerCase{"ZeroWeights", {0, 3, 0, 1}},
                      SamplerCase{"Zipf40", ZipfWeights(40, 1)}));

TEST(RandomTest, ZipfWeightsDecreaseWithRank) {
  auto w = ZipfWeights(100, 2.0);
  ASSERT_EQ(w.size(), 100u);
  for (size_t i = 1; i < w.size(); ++i) {
    EXPECT_LT(w[i], w[i - 1]);
  }
  EXPECT_DOUBLE_EQ(w[0], 1.0 / 3.0);
}

TEST(RandomTest, UuidsAreVersion4AndDistinct) {
  std::regex shape(
      "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
      "[0-9a-f]{12}");
  Rng rng(5);
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string u = UuidFromBits(rng.Next(), rng.Next());
    ASSERT_TRUE(std::regex_match(u, shape)) << u;
    seen.insert(u);
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_EQ(UuidFromBits(0, 0), "00000000-0000-4000-8000-000000000000");
}

}  // namespace
}  // namespace pulse::generate
