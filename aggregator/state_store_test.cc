// StateStore on a real RocksDB in a temporary directory.

#include "aggregator/state_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace pulse::aggregator {
namespace {

namespace fs = std::filesystem;
// What LoadWindows visits, as text: "minute count logins first last" per
// IP and minute, "cooldown s l" per IP.
using Windows = std::map<std::string, std::vector<std::string>>;

IpChange Minutes(const std::string& ip, std::vector<int64_t> minutes) {
  IpChange c;
  c.ip = ip;
  for (int64_t m : minutes) {
    c.minutes.push_back(
        {m, m % 7 + 1, m % 2, m * 60000 + 5, m * 60000 + 59000});
  }
  return c;
}

std::string Text(const MinuteCounts& m) {
  return std::to_string(m.minute) + " " + std::to_string(m.count) + " " +
         std::to_string(m.logins) + " " + std::to_string(m.first) + " " +
         std::to_string(m.last);
}

PartitionRecord SampleRecord() {
  PartitionRecord r;
  r.cluster_id = "MkU3OEVBNTcwNTJENDM2Qk";
  r.next_offset = 123456;
  r.generation = 7;
  r.position = {Lsn(0x16B374D900), Lsn(0x16B374D848), 9001};
  r.newest_event_time = 1796313252123;
  r.events_applied = 98765;
  return r;
}

void ExpectSameRecord(const PartitionRecord& a, const PartitionRecord& b) {
  EXPECT_EQ(a.cluster_id, b.cluster_id);
  EXPECT_EQ(a.next_offset, b.next_offset);
  EXPECT_EQ(a.generation, b.generation);
  EXPECT_EQ(a.position, b.position);
  EXPECT_EQ(a.newest_event_time, b.newest_event_time);
  EXPECT_EQ(a.events_applied, b.events_applied);
}

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("pulse_state_store_test_" + std::to_string(getpid()) + "_" +
            std::to_string(counter++));
    fs::remove_all(dir_);
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }

  void Reopen() {
    store_.reset();
    auto s = StateStore::Open(dir_.string());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }

  Windows WindowsOf(const std::string& topic, int32_t partition) {
    Windows out;
    Status s = store_->LoadWindows(
        topic, partition,
        {.minute =
             [&](std::string_view ip, const MinuteCounts& m) {
               out[std::string(ip)].push_back(Text(m));
             },
         .cooldowns =
             [&](std::string_view ip, int64_t a, int64_t b) {
               out[std::string(ip)].push_back("cooldown " + std::to_string(a) +
                                              " " + std::to_string(b));
             }});
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  void Commit(const std::string& topic, int32_t partition,
              const std::vector<IpChange>& windows, bool replace = false) {
    Status s =
        store_->Commit(topic, partition, SampleRecord(), windows, replace);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  fs::path dir_;
  std::unique_ptr<StateStore> store_;
};

TEST_F(StateStoreTest, MissingPartitionLoadsAsNothing) {
  auto r = store_->Load("directus.activity", 0);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->has_value());
  EXPECT_TRUE(WindowsOf("directus.activity", 0).empty());
}

TEST_F(StateStoreTest, CommittedRecordLoadsBack) {
  PartitionRecord with_cluster = SampleRecord();
  PartitionRecord without_cluster = SampleRecord();
  without_cluster.cluster_id.clear();
  without_cluster.position = {};
  ASSERT_TRUE(store_->Commit("t", 0, with_cluster, {}).ok());
  ASSERT_TRUE(store_->Commit("t", 1, without_cluster, {}).ok());

  auto a = store_->Load("t", 0);
  auto b = store_->Load("t", 1);
  ASSERT_TRUE(a.ok() && a->has_value());
  ASSERT_TRUE(b.ok() && b->has_value());
  ExpectSameRecord(**a, with_cluster);
  ExpectSameRecord(**b, without_cluster);
}

TEST_F(StateStoreTest, WindowsStayWithTheirTopicAndPartition) {
  Commit("t", 1, {Minutes("1.2.3.4", {10, 11}), Minutes("::1", {12})});
  Commit("t", 2, {Minutes("1.2.3.4", {20})});
  Commit("t", 256, {Minutes("9.9.9.9", {30})});  // shares a low byte
  Commit("t2", 1, {Minutes("1.2.3.4", {40})});

  Windows one = WindowsOf("t", 1);
  ASSERT_EQ(one.size(), 2u);
  EXPECT_EQ(one["1.2.3.4"].size(), 2u);
  EXPECT_EQ(one["::1"].size(), 1u);
  EXPECT_EQ(WindowsOf("t", 2)["1.2.3.4"].size(), 1u);
  EXPECT_EQ(WindowsOf("t", 256).size(), 1u);
  EXPECT_EQ(WindowsOf("t2", 1).size(), 1u);
  EXPECT_TRUE(WindowsOf("t", 0).empty());
}

TEST_F(StateStoreTest, MinutesAndCooldownsLoadBackExactly) {
  IpChange c = Minutes("203.0.113.9", {28'000'000, 28'000'001});
  c.cooldowns.emplace(28'000'060, INT64_MIN);
  Commit("t", 0, {c});
  Windows w = WindowsOf("t", 0);
  std::vector<std::string> want = {
      Text(c.minutes[0]), Text(c.minutes[1]),
      "cooldown 28000060 " + std::to_string(INT64_MIN)};
  std::sort(want.begin(), want.end());
  std::sort(w["203.0.113.9"].begin(), w["203.0.113.9"].end());
  EXPECT_EQ(w["203.0.113.9"], want);
}

TEST_F(StateStoreTest, RewritesReplaceDropsDeleteAndExpiryClears) {
  Commit("t", 0, {Minutes("a", {1, 2, 3}), Minutes("b", {1})});
  IpChange again = Minutes("a", {3});
  again.minutes[0].count = 99;
  again.dropped = {1};
  IpChange gone;
  gone.ip = "b";
  gone.expired = true;
  Commit("t", 0, {again, gone});

  Windows w = WindowsOf("t", 0);
  ASSERT_EQ(w.size(), 1u);
  ASSERT_EQ(w["a"].size(), 2u);
  EXPECT_EQ(w["a"][1], Text(again.minutes[0]));
}

TEST_F(StateStoreTest, IpsThatPrefixOthersStayApart) {
  Commit("t", 0, {Minutes("1.2.3.4", {1}), Minutes("1.2.3.45", {2})});
  IpChange gone;
  gone.ip = "1.2.3.4";
  gone.expired = true;
  Commit("t", 0, {gone});
  Windows w = WindowsOf("t", 0);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w.count("1.2.3.45"), 1u);
}

TEST_F(StateStoreTest, ReplaceDropsOnlyThisPartitionsOldWindows) {
  Commit("t", 0, {Minutes("a", {1}), Minutes("b", {2})});
  Commit("t", 1, {Minutes("a", {3})});
  Commit("t", 0, {Minutes("c", {4})}, /*replace=*/true);

  Windows zero = WindowsOf("t", 0);
  ASSERT_EQ(zero.size(), 1u);
  EXPECT_EQ(zero.count("c"), 1u);
  EXPECT_EQ(WindowsOf("t", 1).size(), 1u);

  Commit("t", 0, {}, /*replace=*/true);
  EXPECT_TRUE(WindowsOf("t", 0).empty());
  auto r = store_->Load("t", 0);
  ASSERT_TRUE(r.ok() && r->has_value()) << "the record is written anyway";
}

TEST_F(StateStoreTest, DataSurvivesReopening) {
  PartitionRecord rec = SampleRecord();
  ASSERT_TRUE(
      store_->Commit("t", 3, rec, {Minutes("a", {1}), Minutes("b", {2})}).ok());
  Reopen();

  auto r = store_->Load("t", 3);
  ASSERT_TRUE(r.ok() && r->has_value());
  ExpectSameRecord(**r, rec);
  EXPECT_EQ(WindowsOf("t", 3).size(), 2u);
  EXPECT_GT(store_->SizeOnDisk(), 0u);
}

TEST(StateStoreOpenTest, UnusablePathIsAnError) {
  auto s = StateStore::Open("/proc/pulse-cannot-create-this");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("state_dir"), std::string::npos);
}

TEST(PartitionRecordTest, EncodeDecodeRoundTrips) {
  PartitionRecord cases[4] = {SampleRecord(), SampleRecord(), {}, {}};
  cases[1].cluster_id.clear();
  cases[2].next_offset = -1;
  cases[2].newest_event_time = -86'400'000;
  cases[3].position = {Lsn(UINT64_MAX), Lsn(UINT64_MAX - 1), INT64_MAX};
  cases[3].events_applied = INT64_MAX;
  for (const PartitionRecord& r : cases) {
    std::string bytes = EncodePartitionRecord(r);
    SCOPED_TRACE(bytes);
    auto back = DecodePartitionRecord(bytes);
    ASSERT_TRUE(back.has_value());
    ExpectSameRecord(*back, r);
  }
}

TEST(PartitionRecordTest, DecodeRejectsGarbage) {
  std::string good = EncodePartitionRecord(SampleRecord());
  const std::string cases[] = {
      "",
      "garbage",
      "2" + good.substr(1),  // an unknown version
      good.substr(0, good.find_last_of(' ')),
      "1 x 2 3 4 5 6 7 c",
      std::string("\0\0\0", 3),
  };
  for (const std::string& bytes : cases) {
    SCOPED_TRACE(bytes);
    EXPECT_FALSE(DecodePartitionRecord(bytes).has_value());
  }
}

}  // namespace
}  // namespace pulse::aggregator
