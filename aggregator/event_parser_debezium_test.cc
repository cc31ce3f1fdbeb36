// EventParser on Debezium's PostgreSQL change events for
// directus_activity, with and without the schema envelope.

#include <gtest/gtest.h>

#include <string>

#include "aggregator/event_parser.h"

namespace pulse::aggregator {
namespace {

constexpr EventTimeMs kTime = 1796313252123;  // 2026-12-03T15:54:12.123Z

constexpr std::string_view kRow =
    R"({"id":17,"action":"create",)"
    R"("user":"6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",)"
    R"("timestamp":"2026-12-03T15:54:12.123Z","ip":"10.0.0.1",)"
    R"("user_agent":"curl/8.0","collection":"articles","item":"7",)"
    R"("origin":null,"comment":null})";

constexpr std::string_view kSource =
    R"({"version":"2.1.2.Final","connector":"postgresql","name":"pg",)"
    R"("ts_ms":1796313252150,"snapshot":"false","db":"directus",)"
    R"("sequence":"[\"100\",\"123\"]","schema":"public",)"
    R"("table":"directus_activity","txId":731,"lsn":123,"xmin":null})";

// Debezium's schema for the envelope; its content is never read.
constexpr std::string_view kSchema =
    R"({"type":"struct","fields":[{"type":"struct","fields":[)"
    R"({"type":"int32","optional":false,"field":"id"}],"optional":true,)"
    R"("name":"pg.public.directus_activity.Value","field":"before"}],)"
    R"("optional":false,"name":"pg.public.directus_activity.Envelope"})";

struct Change {
  std::string op = R"("c")";  // raw JSON
  std::string after = std::string(kRow);
  std::string source = std::string(kSource);
};

std::string Unwrapped(const Change& c) {
  return R"({"before":null,"after":)" + c.after + R"(,"source":)" + c.source +
         R"(,"op":)" + c.op + R"(,"ts_ms":1796313252200,"transaction":null})";
}

std::string Enveloped(const Change& c) {
  return R"({"schema":)" + std::string(kSchema) + R"(,"payload":)" +
         Unwrapped(c) + "}";
}

// Both framings of each change, for tests that hold for either.
class DebeziumTest : public ::testing::TestWithParam<bool> {
 protected:
  ParseResult Parse(const Change& c) {
    return parser_.Parse(GetParam() ? Enveloped(c) : Unwrapped(c), event_);
  }

  EventParser parser_;
  ParsedEvent event_;
};

INSTANTIATE_TEST_SUITE_P(Framing, DebeziumTest, ::testing::Bool(),
                         [](const auto& info) {
                           return info.param ? "WithSchemaEnvelope"
                                             : "Unwrapped";
                         });

TEST_P(DebeziumTest, CreateCountsWithEveryField) {
  ASSERT_EQ(Parse({}).outcome, ParseOutcome::kEvent);

  EXPECT_EQ(event_.id, 17);
  EXPECT_EQ(event_.action, "create");
  EXPECT_EQ(event_.collection, "articles");
  EXPECT_EQ(event_.user, "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f");
  EXPECT_EQ(event_.ip, "10.0.0.1");
  EXPECT_EQ(event_.time, kTime);
}

TEST_P(DebeziumTest, SnapshotReadCounts) {
  Change c;
  c.op = R"("r")";
  EXPECT_EQ(Parse(c).outcome, ParseOutcome::kEvent);
  EXPECT_EQ(event_.collection, "articles");
}

TEST_P(DebeziumTest, ChangesOtherThanInsertsAreIgnored) {
  struct Case {
    const char* op;
    const char* after;
  };
  const Case cases[] = {
      {R"("u")", nullptr},  // an update carries the new row
      {R"("d")", "null"},
      {R"("t")", "null"},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.op);
    Change c;
    c.op = k.op;
    if (k.after != nullptr) {
      c.after = k.after;
    }
    ParseResult r = Parse(c);
    EXPECT_EQ(r.outcome, ParseOutcome::kIgnored) << r.reason << r.detail;
  }
}

TEST(DebeziumEnvelopeTest, NullPayloadIsIgnored) {
  EventParser parser;
  ParsedEvent e;
  std::string m =
      R"({"schema":)" + std::string(kSchema) + R"(,"payload":null})";
  EXPECT_EQ(parser.Parse(m, e).outcome, ParseOutcome::kIgnored);
}

TEST_P(DebeziumTest, PositionComesFromSequence) {
  ASSERT_EQ(Parse({}).outcome, ParseOutcome::kEvent);
  ASSERT_TRUE(event_.position.has_value());
  EXPECT_EQ(event_.position->commit_lsn, Lsn(100)) << "sequence[0]";
  EXPECT_EQ(event_.position->lsn, Lsn(123)) << "sequence[1]";
  EXPECT_EQ(event_.position->id, 17);
}

TEST_P(DebeziumTest, SequenceWithNullCommitOrdersAsZero) {
  Change c;
  c.source = R"({"lsn":555,"sequence":"[null,\"555\"]"})";
  ASSERT_EQ(Parse(c).outcome, ParseOutcome::kEvent);
  ASSERT_TRUE(event_.position.has_value());
  EXPECT_EQ(*event_.position, (SourcePos{Lsn(0), Lsn(555), 17}));
}

TEST_P(DebeziumTest, PositionFallsBackToLsnWithoutSequence) {
  const char* sources[] = {
      R"({"lsn":123,"txId":731})",
      R"({"lsn":123,"sequence":null})",
      R"({"lsn":123,"sequence":"not a list"})",
  };
  for (const char* s : sources) {
    SCOPED_TRACE(s);
    Change c;
    c.source = s;
    ASSERT_EQ(Parse(c).outcome, ParseOutcome::kEvent);
    ASSERT_TRUE(event_.position.has_value());
    EXPECT_EQ(*event_.position, (SourcePos{Lsn(123), Lsn(123), 17}));
  }
}

TEST_P(DebeziumTest, NoUsableSourceGivesNoPosition) {
  for (const char* s : {"null", "{}", R"({"lsn":"0/7B"})"}) {
    SCOPED_TRACE(s);
    Change c;
    c.source = s;
    ASSERT_EQ(Parse(c).outcome, ParseOutcome::kEvent);
    EXPECT_FALSE(event_.position.has_value());
  }
}

TEST_P(DebeziumTest, TimestampAsIsoStringOrEpochMillis) {
  struct Case {
    const char* json;
    EventTimeMs want;
  };
  const Case cases[] = {
      {R"("2026-12-03T15:54:12.123Z")", kTime},     // ZonedTimestamp
      {R"("2026-12-03T15:54:12.123456Z")", kTime},  // microseconds
      {R"("2026-12-03T16:54:12.123+01:00")", kTime},
      {"1796313252123", kTime},  // epoch milliseconds
      {"0", 0},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.json);
    Change c;
    c.after = R"({"id":17,"action":"login","collection":"directus_users",)"
              R"("timestamp":)" +
              std::string(k.json) + R"(,"user":null,"ip":null})";
    ASSERT_EQ(Parse(c).outcome, ParseOutcome::kEvent);
    EXPECT_EQ(event_.time, k.want);
    EXPECT_FALSE(event_.user.has_value());
  }
}

TEST_P(DebeziumTest, UnusableCreatesAreInvalid) {
  struct Case {
    const char* name;
    std::string op;
    std::string after;
    std::string_view reason;
  };
  const Case cases[] = {
      {"no action", R"("c")",
       R"({"id":1,"collection":"a","timestamp":"2026-12-03T00:00:00Z"})",
       "missing_field"},
      {"bad timestamp", R"("c")",
       R"({"id":1,"action":"x","collection":"a","timestamp":"soon"})",
       "bad_timestamp"},
      {"id as string", R"("c")",
       R"({"id":"1","action":"x","collection":"a","timestamp":0})",
       "wrong_type"},
      {"create without a row", R"("c")", "null", "missing_field"},
      {"op as number", "1", std::string(kRow), "wrong_type"},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.name);
    Change c;
    c.op = k.op;
    c.after = k.after;
    ParseResult r = Parse(c);
    EXPECT_EQ(r.outcome, ParseOutcome::kInvalid);
    EXPECT_EQ(r.reason, k.reason) << r.detail;
  }
}

TEST(DebeziumEnvelopeTest, EventWithoutOpIsInvalid) {
  EventParser parser;
  ParsedEvent e;
  std::string m = R"({"before":null,"after":)" + std::string(kRow) + "}";
  ParseResult r = parser.Parse(m, e);
  EXPECT_EQ(r.outcome, ParseOutcome::kInvalid);
  EXPECT_EQ(r.reason, "missing_field");
  EXPECT_NE(r.detail.find("'op'"), std::string::npos);
}

TEST(DebeziumEnvelopeTest, PayloadThatIsNotAnObjectIsWrongType) {
  EventParser parser;
  ParsedEvent e;
  ParseResult r = parser.Parse(R"({"schema":{},"payload":[1]})", e);
  EXPECT_EQ(r.outcome, ParseOutcome::kInvalid);
  EXPECT_EQ(r.reason, "wrong_type");
}

}  // namespace
}  // namespace pulse::aggregator
