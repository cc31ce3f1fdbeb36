// RollupBatch against an independent reference: the JSON it writes must
// hold, per granularity, bucket and key, exactly the counts and distinct
// sets a plain std::map computes from the same events.

#include "aggregator/rollup_batch.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "common/hll.h"

namespace pulse::aggregator {
namespace {

constexpr EventTimeMs kDay = 86'400'000;
// 2026-12-03T00:00:00Z; events run from 22:00 the day before.
constexpr EventTimeMs kMidnight = 1796256000000;

// One event with owned strings; user/ip empty optional when absent.
struct TestEvent {
  EventTimeMs time = 0;
  std::string action;
  std::string collection;
  std::optional<std::string> user;
  std::optional<std::string> ip;
};

void AddTo(RollupBatch& batch, const TestEvent& e,
           const std::array<bool, 3>& skip = {}) {
  std::optional<std::string_view> user, ip;
  if (e.user) {
    user = *e.user;
  }
  if (e.ip) {
    ip = *e.ip;
  }
  batch.Add({.time = e.time,
             .action = e.action,
             .collection = e.collection,
             .user = user ? &*user : nullptr,
             .ip = ip ? &*ip : nullptr},
            skip);
}

// Counts and distinct values per key, as the tables should hold them.
struct Tally {
  int64_t count = 0;
  int64_t logins = 0;
  std::set<std::string> distinct;  // users, or collections
  std::string sketch_hex;          // decoded output only
};
using Key = std::tuple<std::string, int64_t, std::string>;
struct Rollups {
  std::map<std::tuple<std::string, int64_t, std::string, std::string>, int64_t>
      activity;
  std::map<Key, Tally> collections, users, ips;
};

// Event i skips the granularities of skips[i % skips.size()].
Rollups Reference(const std::vector<TestEvent>& events,
                  const std::vector<std::array<bool, 3>>& skips) {
  const std::pair<const char*, int64_t> grains[] = {
      {"m", 60'000}, {"h", 3'600'000}, {"d", kDay}};
  Rollups r;
  for (size_t n = 0; n < events.size(); ++n) {
    const TestEvent& e = events[n];
    const std::array<bool, 3>& skip = skips[n % skips.size()];
    for (size_t g = 0; g < 3; ++g) {
      if (skip[g]) {
        continue;
      }
      auto [code, ms] = grains[g];
      int64_t bucket = e.time / ms * ms;  // all times are positive
      ++r.activity[{code, bucket, e.collection, e.action}];
      Tally& c = r.collections[{code, bucket, e.collection}];
      ++c.count;
      if (e.user) {
        c.distinct.insert(*e.user);
        Tally& u = r.users[{code, bucket, *e.user}];
        ++u.count;
        u.distinct.insert(e.collection);
      }
      if (e.ip) {
        Tally& i = r.ips[{code, bucket, *e.ip}];
        ++i.count;
        i.logins += e.action == "login" ? 1 : 0;
        i.distinct.insert(e.collection);
      }
    }
  }
  return r;
}

Rollups Reference(const std::vector<TestEvent>& events,
                  const std::array<bool, 3>& skip = {}) {
  return Reference(events, std::vector<std::array<bool, 3>>{skip});
}

std::string Json(RollupBatch& batch) {
  std::string out = "{\"x\":0";
  batch.AppendJsonMembers(out);
  return out + "}";
}

std::string Unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(
        std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// The granularities an entry's code stands for, finest first, with the
// bucket of each; a code out of order or a bucket not aligned to the
// finest fails the test.
std::vector<std::pair<std::string, int64_t>> Expand(std::string_view code,
                                                    int64_t bucket) {
  const std::map<char, int64_t> ms = {
      {'m', 60'000}, {'h', 3'600'000}, {'d', kDay}};
  std::vector<std::pair<std::string, int64_t>> out;
  EXPECT_TRUE(code == "m" || code == "h" || code == "d" || code == "mh" ||
              code == "md" || code == "hd" || code == "mhd")
      << code;
  for (char c : code) {
    int64_t size = ms.at(c);
    EXPECT_TRUE(!out.empty() || bucket % size == 0) << code << bucket;
    out.emplace_back(std::string(1, c), bucket / size * size);
  }
  return out;
}

// Reads the four arrays back, each entry in every granularity its code
// names; a key written twice fails the test.
Rollups Decode(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(json);
  Rollups r;
  auto keys = [](simdjson::dom::array a) {
    std::vector<Key> out;
    for (auto [g, bucket] :
         Expand(a.at(0).get_string().value(), a.at(1).get_int64().value())) {
      out.emplace_back(g, bucket, std::string(a.at(2).get_string().value()));
    }
    return out;
  };
  for (simdjson::dom::array a : doc["activity"].get_array()) {
    for (auto [g, bucket, name] : keys(a)) {
      bool fresh =
          r.activity
              .emplace(std::tuple(g, bucket, name,
                                  std::string(a.at(3).get_string().value())),
                       a.at(4).get_int64().value())
              .second;
      EXPECT_TRUE(fresh) << "activity key twice: " << g << bucket << name;
    }
  }
  auto counted = [&](const char* array, std::map<Key, Tally>& out,
                     bool logins) {
    for (simdjson::dom::array a : doc[array].get_array()) {
      Tally t;
      t.count = a.at(3).get_int64();
      t.logins = logins ? a.at(4).get_int64().value() : 0;
      t.sketch_hex = std::string(a.at(logins ? 5 : 4).get_string().value());
      EXPECT_EQ(a.size(), logins ? 6u : 5u);
      for (const Key& k : keys(a)) {
        EXPECT_TRUE(out.emplace(k, t).second) << array << " key twice";
      }
    }
  };
  counted("collections", r.collections, false);
  counted("users", r.users, false);
  counted("ips", r.ips, true);
  return r;
}

// How many entries each array of the JSON holds, and with which codes.
std::map<std::string, int> CodesWritten(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(json);
  std::map<std::string, int> out;
  for (const char* array : {"activity", "collections", "users", "ips"}) {
    for (simdjson::dom::array a : doc[array].get_array()) {
      ++out[std::string(a.at(0).get_string().value())];
    }
  }
  return out;
}

std::string SketchOf(const std::set<std::string>& values) {
  Hll h(kUserSketchParams);
  for (const std::string& v : values) {
    h.Add(HllHashBytes(v));
  }
  return h.Serialize();
}

void ExpectSameTallies(const std::map<Key, Tally>& want,
                       const std::map<Key, Tally>& got, const char* table) {
  SCOPED_TRACE(table);
  ASSERT_EQ(want.size(), got.size());
  for (const auto& [k, w] : want) {
    auto it = got.find(k);
    ASSERT_NE(it, got.end())
        << std::get<0>(k) << std::get<1>(k) << std::get<2>(k);
    const Tally& g = it->second;
    EXPECT_EQ(g.count, w.count);
    EXPECT_EQ(g.logins, w.logins);

    std::string bytes = Unhex(g.sketch_hex);
    auto sketch = Hll::Deserialize(bytes);
    ASSERT_TRUE(sketch.ok()) << sketch.status().ToString();
    EXPECT_EQ(sketch->params(), kUserSketchParams);
    EXPECT_EQ(sketch->Cardinality(), static_cast<double>(w.distinct.size()));
    EXPECT_EQ(bytes, SketchOf(w.distinct)) << "same hashes, same bytes";
  }
}

void ExpectMatches(const Rollups& want, const Rollups& got) {
  EXPECT_EQ(want.activity, got.activity);
  ExpectSameTallies(want.collections, got.collections, "collections");
  ExpectSameTallies(want.users, got.users, "users");
  ExpectSameTallies(want.ips, got.ips, "ips");
}

// Small pools so keys repeat; hostile strings so escaping is exercised.
std::vector<TestEvent> RandomEvents(uint64_t seed, size_t n) {
  const std::vector<std::string> actions = {"create", "update", "delete",
                                            "login",  "logout", "Login",
                                            "run",    "comment"};
  std::mt19937_64 rng(seed);
  auto pick = [&](size_t k) { return static_cast<size_t>(rng() % k); };
  std::vector<TestEvent> events(n);
  for (TestEvent& e : events) {
    // From 22:00 the day before to 02:00: two days, several hours.
    e.time = kMidnight - 2 * 3'600'000 +
             static_cast<int64_t>(rng() % (4 * 3'600'000));
    e.action = actions[pick(actions.size())];
    size_t c = pick(12);
    e.collection = c == 0 ? "caf\xC3\xA9 \"q\"\\" : "coll_" + std::to_string(c);
    if (pick(5) != 0) {
      e.user = "user-" + std::to_string(pick(50));
    }
    if (pick(6) != 0) {
      e.ip = pick(20) == 0 ? "not-an-ip" : "10.0.0." + std::to_string(pick(40));
    }
  }
  return events;
}

TEST(RollupBatchTest, DeltasMatchAnIndependentCount) {
  for (uint64_t seed : {1, 2, 3, 20261203}) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    std::vector<TestEvent> events = RandomEvents(seed, 3000);
    RollupBatch batch;
    for (const TestEvent& e : events) {
      AddTo(batch, e);
    }

    EXPECT_EQ(batch.events(), 3000);
    ExpectMatches(Reference(events), Decode(Json(batch)));
  }
}

TEST(RollupBatchTest, LoginsCountOnlyTheLoginAction) {
  RollupBatch batch;
  for (const char* action : {"login", "logout", "Login", "login ", "login"}) {
    AddTo(batch, {kMidnight, action, "directus_users", "u", "1.2.3.4"});
  }
  Rollups got = Decode(Json(batch));
  EXPECT_EQ(got.ips.at({"m", kMidnight, "1.2.3.4"}).logins, 2);
  EXPECT_EQ(got.ips.at({"d", kMidnight, "1.2.3.4"}).count, 5);
}

TEST(RollupBatchTest, AbsentUserOrIpIsNotCountedThere) {
  RollupBatch batch;
  AddTo(batch, {kMidnight, "run", "flows", std::nullopt, std::nullopt});
  AddTo(batch, {kMidnight, "run", "flows", "u1", std::nullopt});
  AddTo(batch, {kMidnight, "run", "flows", std::nullopt, "1.2.3.4"});
  Rollups got = Decode(Json(batch));

  const Tally& flows = got.collections.at({"h", kMidnight, "flows"});
  EXPECT_EQ(flows.count, 3);
  EXPECT_EQ(Hll::Deserialize(Unhex(flows.sketch_hex))->Cardinality(), 1.0)
      << "only u1 is a user";
  EXPECT_EQ(got.users.size(), 3u);  // u1, once per granularity
  EXPECT_EQ(got.ips.size(), 3u);
  EXPECT_EQ(got.ips.at({"m", kMidnight, "1.2.3.4"}).count, 1);
}

TEST(RollupBatchTest, SkippedGranularitiesAreDropped) {
  const std::array<bool, 3> cases[] = {
      {false, false, false}, {true, false, false}, {true, true, false},
      {false, true, false},  {true, true, true},
  };
  std::vector<TestEvent> events = RandomEvents(7, 500);
  for (const auto& skip : cases) {
    SCOPED_TRACE(testing::Message() << "skip m=" << skip[0] << " h=" << skip[1]
                                    << " d=" << skip[2]);
    RollupBatch batch;
    for (const TestEvent& e : events) {
      AddTo(batch, e, skip);
    }
    Rollups got = Decode(Json(batch));
    ExpectMatches(Reference(events, skip), got);

    std::set<std::string> codes;
    for (const auto& [k, count] : got.activity) {
      codes.insert(std::get<0>(k));
    }
    for (size_t g = 0; g < 3; ++g) {
      EXPECT_EQ(codes.count(std::string(1, "mhd"[g])), skip[g] ? 0u : 1u);
    }
  }
}

TEST(RollupBatchTest, EventsSkippingDifferentGranularitiesShareTotals) {
  // Late events of one batch skip different granularities (retention.minute
  // 0 keeps minutes while hours expire), and land in the same totals.
  const std::vector<std::array<bool, 3>> skips = {
      {false, false, false}, {true, false, false}, {false, true, false},
      {true, true, false},   {false, false, true}, {true, true, true},
      {false, true, true}};
  for (uint64_t seed : {5, 6}) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    std::vector<TestEvent> events = RandomEvents(seed, 2000);
    RollupBatch batch;
    for (size_t i = 0; i < events.size(); ++i) {
      AddTo(batch, events[i], skips[i % skips.size()]);
    }
    EXPECT_EQ(batch.events(), 2000);
    ExpectMatches(Reference(events, skips), Decode(Json(batch)));
  }
}

TEST(RollupBatchTest, AKeyWithinOneMinuteIsWrittenOnce) {
  // Five events of one key in one minute: one entry per kind stands for
  // the minute, its hour and its day.
  RollupBatch batch;
  for (int i = 0; i < 5; ++i) {
    AddTo(batch, {kMidnight + 1000 * i, "create", "articles", "u1", "1.2.3.4"});
  }
  std::string json = Json(batch);
  EXPECT_EQ(CodesWritten(json), (std::map<std::string, int>{{"mhd", 4}}));
  Rollups got = Decode(json);
  EXPECT_EQ(got.users.at({"d", kMidnight, "u1"}).count, 5);

  // A second minute of the same hour: its minutes stand alone; the hour
  // and the day, shared by both minutes, are written once each, except
  // for the new user, alone in its hour and day.
  AddTo(batch, {kMidnight + 60'000, "create", "articles", "u2", "1.2.3.4"});
  json = Json(batch);
  EXPECT_EQ(CodesWritten(json), (std::map<std::string, int>{
                                    {"m", 6}, {"h", 3}, {"d", 3}, {"mhd", 2}}))
      << json;
  got = Decode(json);
  EXPECT_EQ(got.ips.at({"h", kMidnight, "1.2.3.4"}).count, 6);
  EXPECT_EQ(got.collections.at({"m", kMidnight + 60'000, "articles"}).count, 1);
  ExpectMatches(
      Reference({{kMidnight, "create", "articles", "u1", "1.2.3.4"},
                 {kMidnight + 1000, "create", "articles", "u1", "1.2.3.4"},
                 {kMidnight + 2000, "create", "articles", "u1", "1.2.3.4"},
                 {kMidnight + 3000, "create", "articles", "u1", "1.2.3.4"},
                 {kMidnight + 4000, "create", "articles", "u1", "1.2.3.4"},
                 {kMidnight + 60'000, "create", "articles", "u2", "1.2.3.4"}}),
      got);
}

TEST(RollupBatchTest, ClearEmptiesTheBatchAndKeepsCountingLogins) {
  RollupBatch batch;
  for (const TestEvent& e : RandomEvents(11, 200)) {
    AddTo(batch, e);
  }
  ASSERT_FALSE(batch.empty());

  batch.Clear();
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(batch.events(), 0);
  EXPECT_EQ(batch.ApproximateBytes(), 0u);
  std::string members;
  batch.AppendJsonMembers(members);
  EXPECT_EQ(members, R"(,"activity":[],"collections":[],"users":[],"ips":[])");

  // A cleared batch is as good as a new one.
  std::vector<TestEvent> events = RandomEvents(12, 300);
  for (const TestEvent& e : events) {
    AddTo(batch, e);
  }
  ExpectMatches(Reference(events), Decode(Json(batch)));
}

TEST(RollupBatchTest, ApproximateBytesGrowsOnlyWithNewKeys) {
  RollupBatch batch;
  TestEvent e{kMidnight + 5, "create", "articles", "u1", "1.2.3.4"};
  AddTo(batch, e);
  size_t one = batch.ApproximateBytes();
  EXPECT_GT(one, 0u);

  AddTo(batch, e);
  EXPECT_EQ(batch.ApproximateBytes(), one) << "the same keys again";

  e.collection = "pages";
  AddTo(batch, e);
  size_t two = batch.ApproximateBytes();
  EXPECT_GT(two, one) << "a new collection";

  e.time += kDay;
  AddTo(batch, e);
  EXPECT_GT(batch.ApproximateBytes(), two) << "new buckets";
}

// Workloads shaped like a flush interval's worth of traffic.
struct Workload {
  const char* name;
  size_t events;
  size_t users, ips, collections;
  int64_t span_ms;
};

std::vector<TestEvent> Traffic(const Workload& w, uint64_t seed) {
  const char* actions[] = {"create", "update", "update", "delete", "login"};
  std::mt19937_64 rng(seed);
  std::vector<TestEvent> events(w.events);
  for (TestEvent& e : events) {
    e.time = kMidnight + static_cast<int64_t>(rng() % w.span_ms);
    e.action = actions[rng() % 5];
    e.collection = "collection_" + std::to_string(rng() % w.collections);
    e.user = "6f1c2d3e-4b5a-4c6d-8e7f-" +
             std::to_string(100000000000 + rng() % w.users);
    e.ip = "203.0." + std::to_string(rng() % w.ips / 256) + "." +
           std::to_string(rng() % 256);
  }
  return events;
}

TEST(RollupBatchTest, ApproximateBytesTracksTheJsonSize) {
  const Workload workloads[] = {
      {"half a second", 500, 2000, 5000, 40, 500},
      {"a busy minute", 20000, 2000, 5000, 40, 60'000},
      {"few keys", 10000, 3, 2, 2, 60'000},
      {"a day of backfill", 20000, 200, 300, 40, kDay},
  };
  for (const Workload& w : workloads) {
    for (uint64_t seed : {1, 2}) {
      SCOPED_TRACE(testing::Message() << w.name << " seed=" << seed);
      RollupBatch batch;
      for (const TestEvent& e : Traffic(w, seed)) {
        AddTo(batch, e);
      }
      std::string members;
      batch.AppendJsonMembers(members);
      double ratio = static_cast<double>(batch.ApproximateBytes()) /
                     static_cast<double>(members.size());
      // At or above the real size, so aggregator.max_batch_bytes keeps
      // messages under the broker's limit; not far above, so batches are
      // not cut needlessly small.
      EXPECT_GE(ratio, 1.0) << members.size() << " bytes";
      EXPECT_LE(ratio, 1.5) << members.size() << " bytes";
    }
  }
}

TEST(RollupBatchTest, GranularityCodesAndLengths) {
  EXPECT_EQ(GranularityCode(Granularity::kMinute), "m");
  EXPECT_EQ(GranularityCode(Granularity::kHour), "h");
  EXPECT_EQ(GranularityCode(Granularity::kDay), "d");
  EXPECT_EQ(GranularityMs(Granularity::kMinute), 60'000);
  EXPECT_EQ(GranularityMs(Granularity::kHour), 3'600'000);
  EXPECT_EQ(GranularityMs(Granularity::kDay), kDay);
}

TEST(StringPoolTest, InternsOnceAndHashesLikeTheExtension) {
  StringPool pool;
  uint32_t a = pool.Intern("articles");
  uint32_t b = pool.Intern(std::string("pages"));
  EXPECT_NE(a, b);
  EXPECT_EQ(pool.Intern(std::string("artic") + "les"), a);
  EXPECT_EQ(pool.Get(a), "articles");
  EXPECT_EQ(pool.Hash(b), HllHashBytes("pages"));
  EXPECT_EQ(pool.size(), 2u);

  pool.Clear();
  EXPECT_EQ(pool.size(), 0u);
  EXPECT_EQ(pool.Get(pool.Intern("pages")), "pages");
  EXPECT_EQ(pool.Hash(0), HllHashBytes("pages"));
}

}  // namespace
}  // namespace pulse::aggregator
