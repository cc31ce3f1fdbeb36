#include "common/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace pulse {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  std::string WriteFile(const std::string& text) {
    path_ = ::testing::TempDir() + "/pulse_config_test.yaml";
    std::ofstream(path_) << text;
    return path_;
  }
  void TearDown() override { std::remove(path_.c_str()); }
  std::string path_;
};

TEST_F(ConfigTest, DefaultsApplyWithoutFile) {
  auto c = Config::Load("", {});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->GetString("ingest.slot"), "pulse");
  EXPECT_EQ(c->GetDuration("aggregator.flush_interval").count(), 500);
  EXPECT_EQ(c->SourceOf("ingest.slot"), "default");
}

TEST_F(ConfigTest, FileThenEnvironmentOverride) {
  auto path = WriteFile(
      "ingest:\n  slot: from_file\n  publication: pub\n"
      "alerts:\n  allow_list: [10.0.0.0/8, 127.0.0.1]\n"
      "kafka:\n  properties:\n    security.protocol: SSL\n");
  auto c = Config::Load(path, {{"PULSE_INGEST_SLOT", "from_env"}});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->GetString("ingest.slot"), "from_env");
  EXPECT_EQ(c->SourceOf("ingest.slot"), "env");
  EXPECT_EQ(c->GetString("ingest.publication"), "pub");
  EXPECT_EQ(c->GetList("alerts.allow_list").size(), 2u);
  EXPECT_EQ(c->GetMap("kafka.properties").at("security.protocol"), "SSL");
}

TEST_F(ConfigTest, ContractEnvironmentNamesMapToKeys) {
  auto c = Config::Load("", {{"PULSE_SOURCE_URL", "postgresql://a/b"},
                             {"PULSE_TARGET_URL", "postgresql://c/d"},
                             {"PULSE_KAFKA_BROKERS", "k:9092"},
                             {"PULSE_STATE_DIR", "/var/lib/pulse"},
                             {"PULSE_HTTP_PORT", "0"}});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->GetString("source.url"), "postgresql://a/b");
  EXPECT_EQ(c->GetString("target.url"), "postgresql://c/d");
  EXPECT_EQ(c->GetString("kafka.brokers"), "k:9092");
  EXPECT_EQ(c->GetString("state_dir"), "/var/lib/pulse");
  EXPECT_EQ(c->GetInt("http.port"), 0);
}

TEST_F(ConfigTest, UnknownKeyIsNamedWithSuggestion) {
  auto path = WriteFile("ingest:\n  slott: x\n");
  auto c = Config::Load(path, {});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("ingest.slott"), std::string::npos);
  EXPECT_NE(c.status().message().find("did you mean 'ingest.slot'"),
            std::string::npos);
}

TEST_F(ConfigTest, WrongTypeNamesKeyAndValue) {
  struct Case {
    const char* yaml;
    const char* key;
  };
  const Case cases[] = {
      {"http:\n  port: eighty\n", "http.port"},
      {"aggregator:\n  flush_interval: 5 seconds\n",
       "aggregator.flush_interval"},
      {"ingest:\n  snapshot: sometimes\n", "ingest.snapshot"},
      {"ingest:\n  slot: [a, b]\n", "ingest.slot"},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.yaml);
    auto c = Config::Load(WriteFile(tc.yaml), {});
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(c.status().message().find(tc.key), std::string::npos)
        << c.status().message();
  }
}

TEST_F(ConfigTest, BadEnvironmentValueNamesVariable) {
  auto c = Config::Load("", {{"PULSE_HTTP_PORT", "x"}});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("PULSE_HTTP_PORT"), std::string::npos);
}

TEST_F(ConfigTest, MissingFileIsAClearError) {
  auto c = Config::Load("/nonexistent/pulse.yaml", {});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("/nonexistent/pulse.yaml"),
            std::string::npos);
}

TEST_F(ConfigTest, DescribeRedactsPasswords) {
  auto c = Config::Load(
      "", {{"PULSE_SOURCE_URL", "postgresql://pulse:s3cret@db:5432/d"}});
  ASSERT_TRUE(c.ok());
  std::string d = c->Describe();
  EXPECT_EQ(d.find("s3cret"), std::string::npos);
  EXPECT_NE(d.find("postgresql://pulse:***@db:5432/d"), std::string::npos);
  EXPECT_EQ(RedactConnectionString("host=x password=abc user=y"),
            "host=x password=*** user=y");
}

}  // namespace
}  // namespace pulse
