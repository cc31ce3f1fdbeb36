// ParseRollupMessage: entries naming several granularities expand into one
// delta per granularity, bad codes and unknown versions are refused by
// name, and what the aggregator's RollupBatch writes reads back as the
// counts of the events it was given.

#include "sink/rollup_message.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <tuple>

#include "aggregator/rollup_batch.h"
#include "common/hll.h"

namespace pulse::sink {
namespace {

constexpr EventTimeMs kMidnight = 1796256000000;  // 2026-12-03T00:00:00Z
constexpr EventTimeMs kMinute = 60'000;
constexpr EventTimeMs kHour = 3'600'000;

// A batch message around the given delta members (each beginning ",").
std::string Batch(const std::string& members, int version = 2) {
  return "{\"v\":" + std::to_string(version) +
         R"(,"type":"batch","topic":"directus.activity","partition":0,)"
         R"("cluster":"c1","generation":1,"from":0,"to":10,)"
         R"("position":{"commit_lsn":"0/10","lsn":"0/10","id":7},)"
         R"("newest_event_time":1,"events":10,"duplicates":0,"invalid":0,)"
         R"("ignored":0,"late":0)" +
         members + R"(,"alerts":[]})";
}

std::string Members(const std::string& activity,
                    const std::string& collections = "",
                    const std::string& ips = "") {
  return ",\"activity\":[" + activity + "],\"collections\":[" + collections +
         "],\"users\":[],\"ips\":[" + ips + "]";
}

std::string SketchHex(const std::string& value) {
  Hll h(kUserSketchParams);
  h.Add(HllHashBytes(value));
  std::string hex;
  for (unsigned char c : h.Serialize()) {
    hex += "0123456789abcdef"[c >> 4];
    hex += "0123456789abcdef"[c & 0xF];
  }
  return hex;
}

TEST(RollupMessageTest, AnEntryStandsForEachGranularityItNames) {
  EventTimeMs minute = kMidnight + 2 * kHour + 5 * kMinute;
  std::string sketch = SketchHex("u1");
  auto m = ParseRollupMessage(Batch(Members(
      "[\"mhd\"," + std::to_string(minute) + ",\"articles\",\"create\",3]",
      "[\"hd\"," + std::to_string(kMidnight + 2 * kHour) +
          ",\"articles\",3,\"" + sketch + "\"]",
      "[\"m\"," + std::to_string(minute) + ",\"1.2.3.4\",3,1,\"" + sketch +
          "\"]")));
  ASSERT_TRUE(m.ok()) << m.status().ToString();

  ASSERT_EQ(m->activity.size(), 3u);
  const std::tuple<Grain, EventTimeMs> want[] = {
      {Grain::kMinute, minute},
      {Grain::kHour, kMidnight + 2 * kHour},
      {Grain::kDay, kMidnight}};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(m->activity[i].grain, std::get<0>(want[i]));
    EXPECT_EQ(m->activity[i].bucket, std::get<1>(want[i]));
    EXPECT_EQ(m->activity[i].collection, "articles");
    EXPECT_EQ(m->activity[i].action, "create");
    EXPECT_EQ(m->activity[i].count, 3);
  }
  ASSERT_EQ(m->collections.size(), 2u);
  EXPECT_EQ(m->collections[0].grain, Grain::kHour);
  EXPECT_EQ(m->collections[1].grain, Grain::kDay);
  EXPECT_EQ(m->collections[1].bucket, kMidnight);
  EXPECT_EQ(m->collections[1].sketch, m->collections[0].sketch);
  ASSERT_EQ(m->ips.size(), 1u);
  EXPECT_EQ(m->ips[0].logins, 1);
}

TEST(RollupMessageTest, RefusesGranularityCodesOutOfOrder) {
  for (const char* code : {"hm", "mm", "dh", "x", "", "mhdd", "M"}) {
    SCOPED_TRACE(code);
    auto m = ParseRollupMessage(Batch(
        Members("[\"" + std::string(code) + "\"," + std::to_string(kMidnight) +
                ",\"articles\",\"create\",1]")));
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.status().message().find("activity entry"), std::string::npos)
        << m.status().ToString();
  }
}

TEST(RollupMessageTest, ReadsVersionOneAndRefusesNewerVersions) {
  std::string one =
      Members("[\"h\"," + std::to_string(kMidnight) + ",\"a\",\"create\",1]");
  EXPECT_TRUE(ParseRollupMessage(Batch(one, 1)).ok());

  auto newer = ParseRollupMessage(Batch(one, 3));
  ASSERT_FALSE(newer.ok());
  EXPECT_NE(newer.status().message().find("upgrade the sink"),
            std::string::npos)
      << newer.status().ToString();
}

TEST(RollupMessageTest, WhatTheAggregatorWritesReadsBackAsItsEvents) {
  // Events over three hours, flushed at random sizes: whatever mix of
  // combined and separate entries each batch writes, the deltas summed
  // per bucket equal a direct count.
  using Key = std::tuple<Grain, EventTimeMs, std::string, std::string>;
  std::map<Key, int64_t> want, got;
  std::mt19937_64 rng(20261204);
  const char* collections[] = {"articles", "pages", "directus_users"};
  const char* actions[] = {"create", "update", "login"};
  aggregator::RollupBatch batch;
  auto flush = [&] {
    std::string members;
    batch.AppendJsonMembers(members);
    auto m = ParseRollupMessage(Batch(members));
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    for (const ActivityDelta& d : m->activity) {
      got[{d.grain, d.bucket, d.collection, d.action}] += d.count;
    }
    batch.Clear();
  };
  for (int i = 0; i < 5000; ++i) {
    EventTimeMs t = kMidnight - kHour + static_cast<int64_t>(i) * 2000 +
                    static_cast<int64_t>(rng() % 3000);
    std::string collection = collections[rng() % 3];
    std::string action = actions[rng() % 3];
    std::string_view user = "u1", ip = "10.0.0.1";
    batch.Add({.time = t,
               .action = action,
               .collection = collection,
               .user = &user,
               .ip = &ip},
              {});
    for (auto [g, size] :
         {std::pair{Grain::kMinute, kMinute}, std::pair{Grain::kHour, kHour},
          std::pair{Grain::kDay, 24 * kHour}}) {
      ++want[{g, t / size * size, collection, action}];
    }
    if (rng() % 200 == 0) {
      flush();
    }
  }
  flush();
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace pulse::sink
