#include "generate/copy_format.h"

#include <gtest/gtest.h>

namespace pulse::generate {
namespace {

struct EscapeCase {
  const char* name;
  std::string in;
  std::string out;
};

void PrintTo(const EscapeCase& c, std::ostream* os) { *os << c.name; }

class CopyTextTest : public ::testing::TestWithParam<EscapeCase> {};

TEST_P(CopyTextTest, SpecialBytesAreEscapedOthersKept) {
  std::string out;
  AppendCopyText(GetParam().in, out);
  EXPECT_EQ(out, GetParam().out);
}

INSTANTIATE_TEST_SUITE_P(
    Values, CopyTextTest,
    ::testing::Values(EscapeCase{"Empty", "", ""},
                      EscapeCase{"Plain", "plain", "plain"},
                      EscapeCase{"Tab", "a\tb", "a\\tb"},
                      EscapeCase{"Newline", "line\nbreak", "line\\nbreak"},
                      EscapeCase{"CarriageReturn", "cr\r", "cr\\r"},
                      EscapeCase{"Backslash", "back\\slash", "back\\\\slash"},
                      // A literal \N must not turn into NULL.
                      EscapeCase{"LiteralNullMarker", "\\N", "\\\\N"},
                      EscapeCase{"LiteralEndMarker", "\\.", "\\\\."},
                      EscapeCase{"AllSpecials", "\t\n\r\\", "\\t\\n\\r\\\\"},
                      EscapeCase{"Unicode", "\xE6\x96\x87 \xF0\x9F\x98\x80",
                                 "\xE6\x96\x87 \xF0\x9F\x98\x80"},
                      EscapeCase{"OtherControl", "bell\x07", "bell\x07"}));

TEST(CopyFieldTest, NullIsBackslashN) {
  std::string out;
  AppendCopyField(std::nullopt, out);
  AppendCopyField(std::string_view(""), out);
  EXPECT_EQ(out, "\\N");
}

TEST(CopyLineTest, ColumnsInOrderWithMillisecondTimestamp) {
  ActivityRow row;
  row.timestamp = 1'772'323'200'123;  // 2026-03-01T00:00:00.123Z
  row.action = "update";
  row.user = "6c1d6f2e-3b7a-4c1e-9d2f-1a2b3c4d5e6f";
  row.ip = "81.2.69.160";
  row.user_agent = std::nullopt;
  row.collection = "articles";
  row.item = "42";
  row.origin = "https://cms.example.com";
  row.comment = "Fixed a typo";

  std::string out;
  AppendCopyLine(row, false, out);
  EXPECT_EQ(out,
            "update\t6c1d6f2e-3b7a-4c1e-9d2f-1a2b3c4d5e6f\t"
            "2026-03-01T00:00:00.123Z\t81.2.69.160\t\\N\tarticles\t42\t"
            "https://cms.example.com\n");

  out.clear();
  AppendCopyLine(row, true, out);
  EXPECT_EQ(out.substr(out.size() - 14), "\tFixed a typo\n");
}

}  // namespace
}  // namespace pulse::generate
