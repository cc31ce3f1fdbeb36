#include "common/lsn.h"

#include <gtest/gtest.h>

namespace pulse {
namespace {

TEST(LsnTest, ParsesAndPrintsPostgresForm) {
  auto lsn = Lsn::Parse("16/B374D848");
  ASSERT_TRUE(lsn.has_value());
  EXPECT_EQ(lsn->value(), (uint64_t{0x16} << 32) | 0xB374D848);
  EXPECT_EQ(lsn->ToString(), "16/B374D848");
  EXPECT_EQ(Lsn(0).ToString(), "0/0");
}

TEST(LsnTest, RejectsMalformedText) {
  for (const char* bad :
       {"", "16", "/1", "1/", "G/1", "1/1/1", "123456789/0", " 1/1"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(Lsn::Parse(bad).has_value());
  }
}

TEST(LsnTest, OrdersByPosition) {
  EXPECT_LT(*Lsn::Parse("0/FFFFFFFF"), *Lsn::Parse("1/0"));
  EXPECT_FALSE(Lsn().valid());
}

}  // namespace
}  // namespace pulse
