#include "ingest/pgoutput.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/activity_json.h"
#include "common/pg.h"

namespace pulse::ingest {
namespace {

// Owns copies of what the decoder hands out, for assertions.
struct Recorded {
  std::string kind;
  std::optional<int64_t> id;
  std::map<std::string, std::optional<std::string>> values;
};

class RecordingHandler : public PgOutputDecoder::Handler {
 public:
  Status OnBegin(const BeginMessage& m) override {
    events.push_back({"begin"});
    xid = m.xid;
    return Status::Ok();
  }
  Status OnCommit(const CommitMessage& m) override {
    events.push_back({"commit"});
    end_lsn = m.end_lsn;
    return Status::Ok();
  }
  Status OnInsert(const ActivityRow& row) override {
    Recorded r{"insert", row.id, {}};
    auto put = [&](const char* k, const std::optional<std::string_view>& v) {
      r.values[k] =
          v ? std::optional<std::string>(std::string(*v)) : std::nullopt;
    };
    put("action", row.action);
    put("user", row.user);
    put("timestamp", row.timestamp_text);
    put("ip", row.ip);
    put("user_agent", row.user_agent);
    put("collection", row.collection);
    put("item", row.item);
    put("origin", row.origin);
    if (row.timestamp) {
      r.values["timestamp_ms"] = std::to_string(*row.timestamp);
    }
    events.push_back(r);
    return Status::Ok();
  }
  void OnSkipped(SkippedChange kind) override {
    const char* names[] = {"update", "delete", "truncate", "other_table"};
    events.push_back({std::string("skip_") + names[static_cast<int>(kind)]});
  }
  void OnRelation(const std::vector<std::string>& columns) override {
    relations.push_back(columns);
  }

  std::vector<Recorded> events;
  std::vector<std::vector<std::string>> relations;
  uint32_t xid = 0;
  Lsn end_lsn;
};

std::vector<std::string> LoadCapture() {
  std::ifstream in(PULSE_TESTDATA_DIR "/pgoutput_capture.txt");
  std::vector<std::string> messages;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    std::istringstream fields(line);
    std::string lsn, xid, hex;
    fields >> lsn >> xid >> hex;
    messages.push_back(*ParseByteaHex("\\x" + hex));
  }
  return messages;
}

class PgOutputDecoderTest : public ::testing::Test {
 protected:
  void DecodeAll() {
    for (const std::string& m : LoadCapture()) {
      Status st = decoder_.Decode(m, handler_);
      ASSERT_TRUE(st.ok()) << st.ToString();
    }
  }
  std::vector<std::string> Kinds() const {
    std::vector<std::string> k;
    for (const auto& e : handler_.events) {
      k.push_back(e.kind);
    }
    return k;
  }

  PgOutputDecoder decoder_{"public", "directus_activity"};
  RecordingHandler handler_;
};

TEST_F(PgOutputDecoderTest, CapturedStreamDecodesInOrder) {
  DecodeAll();
  EXPECT_EQ(Kinds(),
            (std::vector<std::string>{"begin", "insert", "insert", "commit",  //
                                      "begin", "skip_other_table", "commit",  //
                                      "begin", "skip_update", "commit",       //
                                      "begin", "skip_delete", "commit",       //
                                      "begin", "insert", "commit",            //
                                      "begin", "skip_truncate", "commit"}));
}

TEST_F(PgOutputDecoderTest, InsertValuesPassThroughIntact) {
  DecodeAll();
  const Recorded& first = handler_.events[1];
  EXPECT_EQ(first.id, 1);
  EXPECT_EQ(first.values.at("action"), "create");
  EXPECT_EQ(first.values.at("user"), "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f");
  EXPECT_EQ(first.values.at("ip"), "not-an-ip");
  EXPECT_EQ(first.values.at("user_agent"),
            "Mozilla/5.0 \"quoted\" \\ back\ttab");
  EXPECT_EQ(first.values.at("origin"), "https://cms.example.com");
  EXPECT_EQ(first.values.at("timestamp"), "2026-12-03 15:54:12.123+00");
  EXPECT_EQ(first.values.at("timestamp_ms"), "1796313252123");
}

TEST_F(PgOutputDecoderTest, NullColumnsStayAbsent) {
  DecodeAll();
  const Recorded& second = handler_.events[2];
  EXPECT_EQ(second.id, 2);
  EXPECT_EQ(second.values.at("user"), std::nullopt);
  EXPECT_EQ(second.values.at("ip"), std::nullopt);
  EXPECT_EQ(second.values.at("origin"), std::nullopt);
  EXPECT_EQ(second.values.at("collection"), "caf\\u00e9 '; DROP TABLE x; --");
}

TEST_F(PgOutputDecoderTest, DroppedColumnRemapsByName) {
  DecodeAll();
  // The old shape had `comment` before `origin`; after the drop PostgreSQL
  // sends a new Relation and origin moves one place left.
  ASSERT_EQ(handler_.relations.size(), 3u);
  EXPECT_EQ(handler_.relations[0].size(), 10u);
  EXPECT_EQ(handler_.relations[1].size(), 9u);
  const Recorded& after = handler_.events[14];
  EXPECT_EQ(after.id, 3);
  EXPECT_EQ(after.values.at("action"), "login");
  EXPECT_EQ(after.values.at("ip"), "1.2.3.4:5678");
  EXPECT_EQ(after.values.at("item"), "u1");
  EXPECT_EQ(after.values.at("origin"), std::nullopt);
}

TEST_F(PgOutputDecoderTest, EveryTruncationIsAnErrorNotACrash) {
  // Feed the relation, then every strict prefix of each insert.
  std::vector<std::string> msgs = LoadCapture();
  ASSERT_TRUE(decoder_.Decode(msgs[1], handler_).ok());
  for (const std::string& m : {msgs[2], msgs[3], msgs[0], msgs[4]}) {
    for (size_t n = 1; n < m.size(); ++n) {
      SCOPED_TRACE(n);
      Status st = decoder_.Decode(m.substr(0, n), handler_);
      EXPECT_EQ(st.code(), Status::Code::kDataLoss);
    }
  }
}

TEST_F(PgOutputDecoderTest, InsertBeforeRelationIsDataLoss) {
  std::vector<std::string> msgs = LoadCapture();
  Status st = decoder_.Decode(msgs[2], handler_);
  EXPECT_EQ(st.code(), Status::Code::kDataLoss);
}

TEST_F(PgOutputDecoderTest, UnknownMessageTypeNamesIt) {
  Status st = decoder_.Decode("Z123", handler_);
  EXPECT_EQ(st.code(), Status::Code::kDataLoss);
  EXPECT_NE(st.message().find("'Z'"), std::string::npos);
}

TEST(PgEpochTest, ConvertsPostgresMicroseconds) {
  EXPECT_EQ(PgEpochMicrosToUnixMs(0), 946684800000);
  EXPECT_EQ(PgEpochMicrosToUnixMs(-1), 946684799999);
}

}  // namespace
}  // namespace pulse::ingest
