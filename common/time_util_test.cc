#include "common/time_util.h"

#include <gtest/gtest.h>

namespace pulse {
namespace {

TEST(TimeUtilTest, FormatsRfc3339WithMilliseconds) {
  EXPECT_EQ(FormatRfc3339Ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Ms(1796313252123), "2026-12-03T15:54:12.123Z");
  EXPECT_EQ(FormatRfc3339Ms(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339Ms(4102444800000), "2100-01-01T00:00:00.000Z");
}

TEST(TimeUtilTest, ParsesPostgresAndRfc3339Forms) {
  struct Case {
    const char* text;
    EventTimeMs want;
  };
  const Case cases[] = {
      {"2026-12-03 15:54:12.123+00", 1796313252123},
      {"2026-12-03T15:54:12.123Z", 1796313252123},
      {"2026-12-03T15:54:12Z", 1796313252000},
      {"2026-12-03 15:54:12.123456+00", 1796313252123},
      {"2026-12-03T16:54:12.123+01:00", 1796313252123},
      {"2026-12-03T16:54:12.123+0100", 1796313252123},
      {"2026-12-03 15:54:12.5+00", 1796313252500},
      {"1970-01-01 00:00:00+00", 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    auto t = ParseTimestamp(c.text);
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(*t, c.want);
  }
}

TEST(TimeUtilTest, RejectsMalformedTimestamps) {
  for (const char* bad :
       {"", "2026-12-03", "2026-13-03T00:00:00Z", "2026-12-03T00:00:00",
        "2026-12-03T00:00:00.Z", "yesterday", "2026-12-03T00:00:00Zjunk"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(ParseTimestamp(bad).has_value());
  }
}

TEST(TimeUtilTest, FloorsNegativeTimesDown) {
  EXPECT_EQ(FloorTo(-1, kMsPerMinute), -kMsPerMinute);
  EXPECT_EQ(FloorTo(kMsPerMinute + 5, kMsPerMinute), kMsPerMinute);
}

TEST(TimeUtilTest, ParsesDurations) {
  EXPECT_EQ(ParseDuration("500ms")->count(), 500);
  EXPECT_EQ(ParseDuration("10s")->count(), 10000);
  EXPECT_EQ(ParseDuration("7d")->count(), 7 * kMsPerDay);
  EXPECT_EQ(ParseDuration("0")->count(), 0);
  EXPECT_FALSE(ParseDuration("ten seconds").has_value());
  EXPECT_FALSE(ParseDuration("5 s").has_value());
}

}  // namespace
}  // namespace pulse
