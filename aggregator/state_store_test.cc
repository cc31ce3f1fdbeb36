// StateStore on a real RocksDB in a temporary directory.

#include "aggregator/state_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace pulse::aggregator {
namespace {

namespace fs = std::filesystem;
using Windows = std::map<std::string, std::string>;

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
    Status s = store_->ForEachWindow(
        topic, partition, [&](std::string_view ip, std::string_view bytes) {
          EXPECT_TRUE(out.emplace(ip, bytes).second) << ip;
          return Status::Ok();
        });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  void Commit(const std::string& topic, int32_t partition,
              const std::vector<StateStore::WindowChange>& windows,
              bool replace = false) {
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
  Commit("t", 1, {{"1.2.3.4", "a"}, {"::1", "b"}});
  Commit("t", 2, {{"1.2.3.4", "other partition"}});
  Commit("t", 256, {{"9.9.9.9", "partition 256 shares a low byte"}});
  Commit("t2", 1, {{"1.2.3.4", "other topic"}});
  Commit("", 1, {{"5.5.5.5", "empty topic"}});

  EXPECT_EQ(WindowsOf("t", 1), (Windows{{"1.2.3.4", "a"}, {"::1", "b"}}));
  EXPECT_EQ(WindowsOf("t", 2), (Windows{{"1.2.3.4", "other partition"}}));
  EXPECT_EQ(WindowsOf("t2", 1), (Windows{{"1.2.3.4", "other topic"}}));
  EXPECT_EQ(WindowsOf("", 1), (Windows{{"5.5.5.5", "empty topic"}}));
  EXPECT_TRUE(WindowsOf("t", 0).empty());
}

TEST_F(StateStoreTest, BinaryIpsAndStatesSurvive) {
  std::string state("\x01\x00\xff\x00", 4);
  std::string odd_ip("ip\0with\xffnul", 11);
  Commit("t", 0, {{odd_ip, state}, {"", "empty ip"}});
  EXPECT_EQ(WindowsOf("t", 0), (Windows{{odd_ip, state}, {"", "empty ip"}}));
}

TEST_F(StateStoreTest, NulloptDeletesAWindow) {
  Commit("t", 0, {{"a", "1"}, {"b", "2"}, {"c", "3"}});
  Commit("t", 0, {{"b", std::nullopt}, {"c", "3'"}, {"gone", std::nullopt}});
  EXPECT_EQ(WindowsOf("t", 0), (Windows{{"a", "1"}, {"c", "3'"}}));
}

TEST_F(StateStoreTest, ChangeThenDropInOneCommitDrops) {
  // TakeChanges can report an IP's new state and then its expiry.
  Commit("t", 0, {{"a", "new"}, {"a", std::nullopt}});
  EXPECT_TRUE(WindowsOf("t", 0).empty());
}

TEST_F(StateStoreTest, ReplaceDropsOnlyThisPartitionsOldWindows) {
  Commit("t", 0, {{"a", "1"}, {"b", "2"}});
  Commit("t", 1, {{"a", "neighbour"}});
  Commit("t", 0, {{"c", "3"}, {"a", "1'"}}, /*replace=*/true);

  EXPECT_EQ(WindowsOf("t", 0), (Windows{{"a", "1'"}, {"c", "3"}}));
  EXPECT_EQ(WindowsOf("t", 1), (Windows{{"a", "neighbour"}}));

  Commit("t", 0, {}, /*replace=*/true);
  EXPECT_TRUE(WindowsOf("t", 0).empty());
  auto r = store_->Load("t", 0);
  ASSERT_TRUE(r.ok() && r->has_value()) << "the record is written anyway";
}

TEST_F(StateStoreTest, DataSurvivesReopening) {
  PartitionRecord rec = SampleRecord();
  ASSERT_TRUE(store_->Commit("t", 3, rec, {{"a", "1"}, {"b", "2"}}).ok());
  Reopen();

  auto r = store_->Load("t", 3);
  ASSERT_TRUE(r.ok() && r->has_value());
  ExpectSameRecord(**r, rec);
  EXPECT_EQ(WindowsOf("t", 3), (Windows{{"a", "1"}, {"b", "2"}}));
  EXPECT_GT(store_->SizeOnDisk(), 0u);
}

TEST_F(StateStoreTest, CallbackErrorStopsTheScan) {
  Commit("t", 0, {{"a", "1"}, {"b", "2"}, {"c", "3"}});
  int calls = 0;
  Status s =
      store_->ForEachWindow("t", 0, [&](std::string_view, std::string_view) {
        ++calls;
        return Status::DataLoss("bad window");
      });
  EXPECT_EQ(s.code(), Status::Code::kDataLoss);
  EXPECT_EQ(calls, 1);
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
