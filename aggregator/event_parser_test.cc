// EventParser on Pulse's own activity format, built with the ingest's
// writer (AppendActivityJson) so both sides agree, and by hand where the
// writer cannot produce the input. Debezium: event_parser_debezium_test.cc.

#include "aggregator/event_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/activity_json.h"

namespace pulse::aggregator {
namespace {

constexpr EventTimeMs kTime = 1796313252123;  // 2026-12-03T15:54:12.123Z
constexpr std::string_view kUser = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f";

ActivityRow FullRow() {
  ActivityRow row;
  row.id = 42;
  row.action = "create";
  row.user = kUser;
  row.timestamp = kTime;
  row.ip = "10.0.0.1";
  row.user_agent = "Mozilla/5.0";
  row.collection = "articles";
  row.item = "7";
  row.origin = "https://cms.example.com";
  return row;
}

SourcePosition DefaultSource() {
  return {.lsn = Lsn(0x16B6C50), .commit_lsn = Lsn(0x16B6D00), .xid = 731};
}

std::string Encode(const ActivityRow& row,
                   const SourcePosition& src = DefaultSource()) {
  std::string out;
  AppendActivityJson(row, src, out);
  return out;
}

// A message with `field` replaced by raw JSON `value` (or removed when
// `value` is empty), the rest as FullRow() writes it.
std::string HandWritten(std::string_view field, std::string_view value) {
  std::vector<std::pair<std::string_view, std::string>> fields = {
      {"id", "42"},
      {"action", "\"create\""},
      {"user", "\"u\""},
      {"timestamp", "\"2026-12-03T15:54:12.123Z\""},
      {"ip", "\"10.0.0.1\""},
      {"collection", "\"articles\""},
      {"source", R"({"lsn":"0/2","commit_lsn":"0/3","xid":1,)"
                 R"("snapshot":false})"}};
  std::string out = "{";
  for (const auto& [name, json] : fields) {
    std::string_view v = name == field ? value : json;
    if (v.empty()) {
      continue;
    }
    out += out.size() > 1 ? ",\"" : "\"";
    out += name;
    out += "\":";
    out += v;
  }
  return out + "}";
}

class EventParserTest : public ::testing::Test {
 protected:
  ParseResult Parse(std::string_view message) {
    return parser_.Parse(message, event_);
  }

  EventParser parser_;
  ParsedEvent event_;
};

TEST_F(EventParserTest, ReadsEveryFieldTheIngestWrites) {
  ASSERT_EQ(Parse(Encode(FullRow())).outcome, ParseOutcome::kEvent);

  EXPECT_EQ(event_.id, 42);
  EXPECT_EQ(event_.action, "create");
  EXPECT_EQ(event_.collection, "articles");
  EXPECT_EQ(event_.user, kUser);
  EXPECT_EQ(event_.ip, "10.0.0.1");
  EXPECT_EQ(event_.time, kTime);
  ASSERT_TRUE(event_.position.has_value());
  EXPECT_EQ(event_.position->commit_lsn, Lsn(0x16B6D00));
  EXPECT_EQ(event_.position->lsn, Lsn(0x16B6C50));
  EXPECT_EQ(event_.position->id, 42);
}

TEST_F(EventParserTest, NullOptionalFieldsAreAbsent) {
  ActivityRow row = FullRow();
  row.id.reset();
  row.user.reset();
  row.ip.reset();
  row.user_agent.reset();
  row.item.reset();
  row.origin.reset();

  ASSERT_EQ(Parse(Encode(row)).outcome, ParseOutcome::kEvent);
  EXPECT_FALSE(event_.id.has_value());
  EXPECT_FALSE(event_.user.has_value());
  EXPECT_FALSE(event_.ip.has_value());
  ASSERT_TRUE(event_.position.has_value());
  EXPECT_EQ(event_.position->id, 0) << "a null id orders as 0";
}

TEST_F(EventParserTest, StringsArriveUnescapedAndIntact) {
  const std::vector<std::string> values = {
      "plain",
      "quote \" and backslash \\ and slash /",
      "tab\tnewline\nreturn\r",
      std::string("nul\0byte", 8),
      "\x01\x1f control",
      // Two-, three- and four-byte UTF-8.
      "caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80",
      "' OR 1=1; --",
      "",
  };
  for (const std::string& v : values) {
    SCOPED_TRACE(v);
    ActivityRow row = FullRow();
    row.action = v;
    row.collection = v;
    row.user = v;
    row.ip = v;
    ASSERT_EQ(Parse(Encode(row)).outcome, ParseOutcome::kEvent);
    EXPECT_EQ(event_.action, v);
    EXPECT_EQ(event_.collection, v);
    EXPECT_EQ(event_.user, v);
    EXPECT_EQ(event_.ip, v);
  }
}

TEST_F(EventParserTest, UnicodeEscapesAreDecoded) {
  std::string m = HandWritten("collection", R"("caf\u00e9 \ud83d\ude00")");
  ASSERT_EQ(Parse(m).outcome, ParseOutcome::kEvent);
  EXPECT_EQ(event_.collection, "caf\xC3\xA9 \xF0\x9F\x98\x80");
}

TEST_F(EventParserTest, TenKilobyteUserAgentIsAccepted) {
  std::string agent(10 * 1024, 'a');
  agent += " \"quoted\" \xC3\xA9";
  ActivityRow row = FullRow();
  row.user_agent = agent;

  ASSERT_EQ(Parse(Encode(row)).outcome, ParseOutcome::kEvent);
  EXPECT_EQ(event_.collection, "articles");
  EXPECT_EQ(event_.time, kTime);
}

TEST_F(EventParserTest, UnknownFieldsAreAccepted) {
  std::string m = Encode(FullRow());
  m.insert(1, R"("comment":{"nested":[1,2,{"x":null}]},"extra":7,)");
  m.insert(m.size() - 1, R"(,"later":"field")");

  ASSERT_EQ(Parse(m).outcome, ParseOutcome::kEvent) << m;
  EXPECT_EQ(event_.action, "create");
  EXPECT_EQ(event_.collection, "articles");
  EXPECT_TRUE(event_.position.has_value());
}

TEST_F(EventParserTest, TimestampsFarFromNowParse) {
  struct Case {
    const char* text;
    EventTimeMs want;
  };
  const Case cases[] = {
      {"1970-01-01T00:00:00.000Z", 0},
      {"1970-01-01T00:00:00.001Z", 1},
      {"2100-01-01T00:00:00.000Z", 4102444800000},
      {"2100-12-31T23:59:59.999Z", 4133980799999},
      {"2026-12-03 16:54:12.123+01", kTime},  // PostgreSQL's own style
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    std::string m = HandWritten("timestamp", '"' + std::string(c.text) + '"');
    ASSERT_EQ(Parse(m).outcome, ParseOutcome::kEvent);
    EXPECT_EQ(event_.time, c.want);
  }

  // And through the ingest's writer, which normalises to RFC 3339.
  for (EventTimeMs t : {EventTimeMs{0}, EventTimeMs{4102444800000}}) {
    ActivityRow row = FullRow();
    row.timestamp = t;
    ASSERT_EQ(Parse(Encode(row)).outcome, ParseOutcome::kEvent);
    EXPECT_EQ(event_.time, t);
  }
}

TEST_F(EventParserTest, PositionComesFromSource) {
  ActivityRow row = FullRow();
  row.id = 9001;
  SourcePosition src{.lsn = Lsn(0x16B374D848), .commit_lsn = Lsn(0x16B374D900)};

  ASSERT_EQ(Parse(Encode(row, src)).outcome, ParseOutcome::kEvent);
  ASSERT_TRUE(event_.position.has_value());
  EXPECT_EQ(*event_.position,
            (SourcePos{Lsn(0x16B374D900), Lsn(0x16B374D848), 9001}));
}

TEST(SourcePosTest, OrdersByCommitThenLsnThenId) {
  // Ascending: each differs from the one before in one component only.
  const std::vector<SourcePos> ascending = {
      {Lsn(1), Lsn(5), 9},  //
      {Lsn(2), Lsn(1), 1},  // a later commit wins over a larger lsn
      {Lsn(2), Lsn(3), 0},  //
      {Lsn(2), Lsn(3), 7},  // same insert position: the id decides
      {Lsn(3), Lsn(0), 0},
  };
  for (size_t i = 0; i + 1 < ascending.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_LT(ascending[i], ascending[i + 1]);
    EXPECT_FALSE(ascending[i + 1] <= ascending[i]);
  }
  EXPECT_EQ(ascending[2], (SourcePos{Lsn(2), Lsn(3), 0}));
}

TEST_F(EventParserTest, MissingOrUnusableSourceGivesNoPosition) {
  struct Case {
    const char* name;
    const char* source;  // raw JSON, or "" to leave "source" out
  };
  const Case cases[] = {
      {"absent", ""},
      {"null", "null"},
      {"not an object", R"("0/16B6C50")"},
      {"empty", "{}"},
      {"only lsn", R"({"lsn":"0/2"})"},
      {"only commit_lsn", R"({"commit_lsn":"0/3"})"},
      {"lsn not X/Y", R"({"lsn":"12345","commit_lsn":"0/3"})"},
      {"lsn a number", R"({"lsn":2,"commit_lsn":"0/3"})"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ParseResult r = Parse(HandWritten("source", c.source));
    ASSERT_EQ(r.outcome, ParseOutcome::kEvent) << r.reason << r.detail;
    EXPECT_FALSE(event_.position.has_value());
    EXPECT_EQ(event_.collection, "articles");
  }
}

TEST_F(EventParserTest, EmptyMessageIsIgnored) {
  ParseResult r = Parse("");
  EXPECT_EQ(r.outcome, ParseOutcome::kIgnored);
  EXPECT_TRUE(r.reason.empty());
}

TEST_F(EventParserTest, ParserIsReusableAfterARejection) {
  ASSERT_EQ(Parse("{\"id\":").outcome, ParseOutcome::kInvalid);
  ASSERT_EQ(Parse(Encode(FullRow())).outcome, ParseOutcome::kEvent);
  EXPECT_EQ(event_.id, 42);
}

// Every way a message can be unusable, with the reason code that reaches
// the dead-letter header and the field the detail must name.
struct InvalidCase {
  const char* name;
  std::string message;
  std::string_view reason;
  const char* detail_names;  // a substring of the detail; "" for any
};

std::vector<InvalidCase> InvalidCases() {
  ActivityRow bad_month = FullRow();
  bad_month.timestamp.reset();
  bad_month.timestamp_text = "2026-13-01T00:00:00Z";
  ActivityRow yesterday = FullRow();
  yesterday.timestamp.reset();
  yesterday.timestamp_text = "yesterday";
  ActivityRow no_timestamp = FullRow();
  no_timestamp.timestamp.reset();
  ActivityRow no_action = FullRow();
  no_action.action.reset();
  ActivityRow no_collection = FullRow();
  no_collection.collection.reset();
  std::string full = Encode(FullRow());

  return {
      {"garbage", "hello, world", "not_json", ""},
      {"garbage object", "{oops}", "not_json", ""},
      {"truncated in a string", full.substr(0, 30), "not_json", ""},
      {"truncated before the end", full.substr(0, full.size() - 1), "not_json",
       ""},
      {"truncated after a key", R"({"id":)", "not_json", ""},
      {"array", "[1,2,3]", "not_object", ""},
      {"string", R"("create")", "not_object", ""},
      {"number", "42", "not_object", ""},
      {"null", "null", "not_object", ""},
      {"id as string", HandWritten("id", R"("42")"), "wrong_type", "'id'"},
      {"id as fraction", HandWritten("id", "4.2"), "wrong_type", "'id'"},
      {"action as number", HandWritten("action", "7"), "wrong_type",
       "'action'"},
      {"collection as object", HandWritten("collection", R"({"a":1})"),
       "wrong_type", "'collection'"},
      {"user as number", HandWritten("user", "1"), "wrong_type", "'user'"},
      {"ip as bool", HandWritten("ip", "true"), "wrong_type", "'ip'"},
      {"timestamp as array", HandWritten("timestamp", "[]"), "wrong_type",
       "'timestamp'"},
      {"action null", Encode(no_action), "missing_field", "'action'"},
      {"action absent", HandWritten("action", ""), "missing_field", "'action'"},
      {"collection null", Encode(no_collection), "missing_field",
       "'collection'"},
      {"collection absent", HandWritten("collection", ""), "missing_field",
       "'collection'"},
      {"timestamp null", Encode(no_timestamp), "missing_field", "'timestamp'"},
      {"timestamp absent", HandWritten("timestamp", ""), "missing_field",
       "'timestamp'"},
      {"timestamp in words", Encode(yesterday), "bad_timestamp", "yesterday"},
      {"timestamp month 13", Encode(bad_month), "bad_timestamp", "2026-13-01"},
      {"timestamp without zone",
       HandWritten("timestamp", R"("2026-12-03T15:54:12.123")"),
       "bad_timestamp", "'timestamp'"},
      {"timestamp empty", HandWritten("timestamp", R"("")"), "bad_timestamp",
       "'timestamp'"},
      {"invalid utf-8 in a value", HandWritten("collection", "\"caf\xE9\""),
       "not_utf8", ""},
      {"lone continuation byte", HandWritten("user", "\"\x80\""), "not_utf8",
       ""},
      {"overlong encoding", HandWritten("ip", "\"\xC0\xAF\""), "not_utf8", ""},
  };
}

TEST_F(EventParserTest, UnusableMessagesAreInvalidWithTheirReason) {
  for (const InvalidCase& c : InvalidCases()) {
    SCOPED_TRACE(c.name);
    ParseResult r = Parse(c.message);
    EXPECT_EQ(r.outcome, ParseOutcome::kInvalid) << c.message;
    EXPECT_EQ(r.reason, c.reason) << r.detail;
    EXPECT_NE(r.detail.find(c.detail_names), std::string::npos) << r.detail;
    EXPECT_FALSE(r.detail.empty());
  }
}

TEST_F(EventParserTest, MessagesOverMaxBytesAreOversized) {
  std::string m = Encode(FullRow());
  EventParser exact(m.size());
  ParsedEvent e;
  EXPECT_EQ(exact.Parse(m, e).outcome, ParseOutcome::kEvent);

  EventParser small(m.size() - 1);
  ParseResult r = small.Parse(m, e);
  EXPECT_EQ(r.outcome, ParseOutcome::kInvalid);
  EXPECT_EQ(r.reason, "oversized");
  EXPECT_NE(r.detail.find("max_message_bytes"), std::string::npos);

  // Size is judged before content: even garbage is "oversized".
  EXPECT_EQ(small.Parse(std::string(m.size(), '!'), e).reason, "oversized");
}

}  // namespace
}  // namespace pulse::aggregator
