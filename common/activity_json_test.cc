#include "common/activity_json.h"

#include <gtest/gtest.h>

namespace pulse {
namespace {

TEST(ActivityJsonTest, EncodesEveryFieldWithSource) {
  ActivityRow row;
  row.id = 42;
  row.action = "create";
  row.user = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f";
  row.timestamp = 1796313252123;
  row.ip = "10.0.0.1";
  row.user_agent = "Mozilla \"5\"";
  row.collection = "articles";
  row.item = "7";
  SourcePosition src{.lsn = Lsn(0x16B6C50),
                     .commit_lsn = Lsn(0x16B6D00),
                     .xid = 731,
                     .snapshot = false};
  std::string out;
  EXPECT_EQ(AppendActivityJson(row, src, out), 0u);
  EXPECT_EQ(out, R"({"id":42,"action":"create",)"
                 R"("user":"6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",)"
                 R"("timestamp":"2026-12-03T15:54:12.123Z","ip":"10.0.0.1",)"
                 R"("user_agent":"Mozilla \"5\"","collection":"articles",)"
                 R"("item":"7","origin":null,"source":{"lsn":"0/16B6C50",)"
                 R"("commit_lsn":"0/16B6D00","xid":731,"snapshot":false}})");
}

TEST(ActivityJsonTest, UnparsableTimestampKeepsItsText) {
  ActivityRow row;
  row.timestamp_text = "infinity";
  std::string out;
  AppendActivityJson(row, {}, out);
  EXPECT_NE(out.find(R"("timestamp":"infinity")"), std::string::npos);
  EXPECT_NE(out.find(R"("id":null)"), std::string::npos);
}

TEST(ActivityJsonTest, KeyIsIpThenId) {
  std::string scratch;
  ActivityRow row;
  row.id = 9;
  EXPECT_EQ(ActivityKey(row, scratch), "9");
  row.ip = "";
  EXPECT_EQ(ActivityKey(row, scratch), "9");
  row.ip = "not-an-ip";
  EXPECT_EQ(ActivityKey(row, scratch), "not-an-ip");
}

}  // namespace
}  // namespace pulse
