#include "common/json_writer.h"

#include <gtest/gtest.h>

namespace pulse {
namespace {

TEST(JsonWriterTest, WritesNestedObjectsWithCommas) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("a").Int(1);
  w.Key("b").BeginArray().String("x").Null().Bool(true).EndArray();
  w.Key("c").BeginObject().Key("d").Uint(2).EndObject();
  w.EndObject();
  EXPECT_EQ(out, R"({"a":1,"b":["x",null,true],"c":{"d":2}})");
}

TEST(JsonWriterTest, EscapesQuotesBackslashesAndControls) {
  std::string out;
  JsonWriter(out).String("a\"b\\c\n\t\x01");
  EXPECT_EQ(out, R"("a\"b\\c\n\t\u0001")");
}

TEST(JsonWriterTest, KeepsValidUtf8Intact) {
  std::string out;
  JsonWriter(out).String("caf\xC3\xA9 \xF0\x9F\x98\x80 \xE6\x97\xA5");
  EXPECT_EQ(out, "\"caf\xC3\xA9 \xF0\x9F\x98\x80 \xE6\x97\xA5\"");
}

TEST(JsonWriterTest, ReplacesInvalidUtf8AndCountsIt) {
  std::string out;
  JsonWriter w(out);
  w.String(
      "a\xFF"
      "b\xC3");
  EXPECT_EQ(out,
            "\"a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD\"");
  EXPECT_EQ(w.replaced_bytes(), 2u);
}

TEST(JsonWriterTest, RejectsOverlongAndSurrogateSequences) {
  EXPECT_EQ(Utf8SequenceLength("\xC0\x80", 0), 0u);
  EXPECT_EQ(Utf8SequenceLength("\xED\xA0\x80", 0), 0u);
  EXPECT_EQ(Utf8SequenceLength("\xF4\x90\x80\x80", 0), 0u);
  EXPECT_EQ(Utf8SequenceLength("\xE2\x82\xAC", 0), 3u);
}

}  // namespace
}  // namespace pulse
