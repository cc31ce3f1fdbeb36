#include "common/copy_text.h"

#include <gtest/gtest.h>

namespace pulse {
namespace {

TEST(UnescapeCopyFieldTest, DecodesEscapes) {
  struct Case {
    const char* in;
    std::string want;
  };
  const Case cases[] = {
      {"plain", "plain"},
      {"a\\tb", "a\tb"},
      {"line\\nnext\\r", "line\nnext\r"},
      {"back\\\\slash", "back\\slash"},
      {"\\b\\f\\v", "\b\f\v"},
      {"\\101\\1", "A\x01"},
      {"", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.in);
    std::string out;
    ASSERT_TRUE(UnescapeCopyField(c.in, out));
    EXPECT_EQ(out, c.want);
  }
}

TEST(UnescapeCopyFieldTest, NullMarkerIsNotAValue) {
  std::string out;
  EXPECT_FALSE(UnescapeCopyField("\\N", out));
  EXPECT_TRUE(UnescapeCopyField("\\\\N", out));
  EXPECT_EQ(out, "\\N");
}

TEST(CopyTextTest, EscapedValuesDecodeToThemselves) {
  for (std::string v : {std::string("a\tb\nc\\d\re"), std::string(""),
                        std::string("\\N"), std::string("plain")}) {
    SCOPED_TRACE(v);
    std::string escaped, back;
    AppendCopyText(v, escaped);
    ASSERT_TRUE(UnescapeCopyField(escaped, back));
    EXPECT_EQ(back, v);
  }
}

}  // namespace
}  // namespace pulse
