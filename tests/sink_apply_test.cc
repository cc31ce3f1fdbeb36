// The sink's Writer on a real PostgreSQL: a rollup message applied twice,
// an older message after a newer one, a gap, a stale owner: none changes
// the tables. Without the hll extension the sketches are unioned in C++
// and stored byte for byte as the extension would.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/hll.h"
#include "sink/writer.h"
#include "tests/harness/pg_server.h"

namespace pulse::testing {
namespace {

using sink::Grain;
using sink::Incoming;
using sink::RollupMessage;
using sink::SketchDelta;

constexpr EventTimeMs kHour = 1796313600000;  // 2026-12-03T16:00:00Z

// A message for partition 0 covering [from, to) with `users` in the
// collection "articles", hour and day buckets.
RollupMessage Message(int64_t from, int64_t to,
                      const std::vector<std::string>& users,
                      int64_t generation = 1,
                      const std::string& cluster = "c1") {
  RollupMessage m;
  m.topic = "directus.activity";
  m.partition = 0;
  m.cluster = cluster;
  m.generation = generation;
  m.from = from;
  m.to = to;
  m.position_commit_lsn = Lsn(static_cast<uint64_t>(to));
  m.position_lsn = Lsn(static_cast<uint64_t>(to));
  m.newest_event_time = kHour + to;
  m.events = static_cast<int64_t>(users.size());
  Hll sketch;
  for (const std::string& u : users) {
    sketch.Add(HllHashBytes(u));
  }
  for (Grain g : {Grain::kHour, Grain::kDay}) {
    EventTimeMs bucket = g == Grain::kHour ? kHour : FloorTo(kHour, kMsPerDay);
    m.activity.push_back(
        {g, bucket, "articles", "update", static_cast<int64_t>(users.size())});
    m.collections.push_back(SketchDelta{g, bucket, "articles",
                                        static_cast<int64_t>(users.size()), 0,
                                        sketch.Serialize()});
  }
  return m;
}

class SinkApplyTest : public ::testing::Test {
 protected:
  void Open(const std::string& url) {
    PgConn admin = SharedPgServer().Connect(url);
    auto schema = sink::MigrateSchema(admin, {});
    ASSERT_TRUE(schema.ok()) << schema.status().ToString();
    hll_ = schema->hll;
    auto w = sink::Writer::Connect(url, *schema, {});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    writer_.emplace(std::move(w).value());
    reader_ = SharedPgServer().Connect(url);
  }

  sink::ApplyReport Apply(std::vector<RollupMessage> messages) {
    std::vector<Incoming> batch;
    for (RollupMessage& m : messages) {
      batch.push_back({0, next_offset_++, std::move(m)});
    }
    auto r = writer_->Apply(batch, "directus.activity.rollups", "c1");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : sink::ApplyReport();
  }

  // Everything a reader can see, as text, to compare before and after.
  std::string Tables() {
    auto r = reader_.Exec(
        "SELECT string_agg(concat_ws('|', bucket, collection, "
        "activity_count, unique_users, users::text), E'\\n' ORDER BY bucket) "
        "FROM pulse.collection_hour");
    auto a = reader_.Exec(
        "SELECT string_agg(concat_ws('|', bucket, collection, action, "
        "activity_count), E'\\n' ORDER BY bucket) FROM pulse.activity_day");
    return r->GetString(0, 0) + "\n" + a->GetString(0, 0);
  }

  std::optional<sink::Writer> writer_;
  PgConn reader_;
  bool hll_ = false;
  int64_t next_offset_ = 0;
};

TEST_F(SinkApplyTest, DuplicateOlderGapAndStaleMessagesChangeNothing) {
  Open(SharedPgServer().CreateDatabase("sinkapply"));
  ASSERT_TRUE(hll_);
  EXPECT_EQ(Apply({Message(0, 10, {"u1", "u2"})}).applied, 1);
  EXPECT_EQ(Apply({Message(10, 20, {"u2", "u3"})}).applied, 1);
  std::string after = Tables();

  struct Case {
    const char* name;
    RollupMessage m;
    bool rejected;
  };
  std::vector<Case> cases;
  cases.push_back(
      {"the same message again", Message(10, 20, {"u2", "u3"}), false});
  cases.push_back({"an older message", Message(0, 10, {"u1", "u2"}), false});
  cases.push_back({"a gap", Message(25, 30, {"u9"}), true});
  cases.push_back({"an overlap", Message(15, 30, {"u9"}), true});
  cases.push_back({"a stale owner", Message(20, 30, {"u9"}, 0), true});
  for (Case& c : cases) {
    SCOPED_TRACE(c.name);
    sink::ApplyReport r = Apply({c.m});
    EXPECT_EQ(r.applied, 0);
    EXPECT_EQ(r.rejected, c.rejected ? 1 : 0);
    EXPECT_EQ(Tables(), after);
  }

  // Counts add and sketches union: 4 events, users u1, u2, u3.
  auto row = reader_.Exec(
      "SELECT activity_count, unique_users FROM pulse.collection_hour");
  EXPECT_EQ(row->GetInt(0, 0), 4);
  EXPECT_EQ(row->GetInt(0, 1), 3);
}

TEST_F(SinkApplyTest, NewBrokerIncarnationRestartsOffsetsKeepingTotals) {
  Open(SharedPgServer().CreateDatabase("sinkapply"));
  Apply({Message(0, 10, {"u1"})});
  // The embedded broker restarted: offsets count from zero again.
  EXPECT_EQ(Apply({Message(0, 5, {"u2"}, 2, "c2")}).applied, 1);
  EXPECT_EQ(Apply({Message(5, 8, {"u3"}, 2, "c2")}).applied, 1);
  auto row = reader_.Exec(
      "SELECT activity_count, unique_users FROM pulse.collection_hour");
  EXPECT_EQ(row->GetInt(0, 0), 3);
  EXPECT_EQ(row->GetInt(0, 1), 3);
  auto state = reader_.Exec(
      "SELECT cluster_id, next_offset, generation FROM pulse.partition_state");
  EXPECT_EQ(state->Get(0, 0), "c2");
  EXPECT_EQ(state->GetInt(0, 1), 8);
  EXPECT_EQ(state->GetInt(0, 2), 2);
}

RollupMessage Claim(int64_t generation) {
  RollupMessage m;
  m.type = RollupMessage::Type::kClaim;
  m.topic = "directus.activity";
  m.partition = 0;
  m.cluster = "c1";
  m.generation = generation;
  return m;
}

// A previous owner expelled from the group but still running publishes
// after its successor restored the partition: the successor's claim must
// fence it, or the successor's own batches would no longer follow.
TEST_F(SinkApplyTest, ClaimFencesThePreviousOwner) {
  Open(SharedPgServer().CreateDatabase("sinkapply"));
  EXPECT_EQ(Apply({Message(0, 10, {"u1"}, 1)}).applied, 1);

  sink::ApplyReport claimed = Apply({Claim(2)});
  EXPECT_EQ(claimed.claims, 1);
  EXPECT_EQ(Apply({Claim(2)}).claims, 0) << "the same claim again";
  EXPECT_EQ(Apply({Claim(1)}).claims, 0) << "an older claim";

  sink::ApplyReport zombie = Apply({Message(10, 20, {"z"}, 1)});
  EXPECT_EQ(zombie.applied, 0);
  EXPECT_EQ(zombie.rejected, 1);
  EXPECT_EQ(Apply({Message(10, 15, {"u2"}, 2)}).applied, 1);
  EXPECT_EQ(Apply({Message(15, 20, {"u3"}, 2)}).applied, 1);

  auto row = reader_.Exec(
      "SELECT activity_count, unique_users FROM pulse.collection_hour");
  EXPECT_EQ(row->GetInt(0, 0), 3);
  EXPECT_EQ(row->GetInt(0, 1), 3);
  auto state =
      reader_.Exec("SELECT next_offset, generation FROM pulse.partition_state");
  EXPECT_EQ(state->GetInt(0, 0), 20);
  EXPECT_EQ(state->GetInt(0, 1), 2);
}

// A claim on a partition with no results yet: the record it makes holds
// the generation but no offset, so the owner's first batch (from wherever
// the topic begins) applies, and an older owner's does not.
TEST_F(SinkApplyTest, ClaimOfANewPartitionFencesWithoutAnOffset) {
  Open(SharedPgServer().CreateDatabase("sinkapply"));
  EXPECT_EQ(Apply({Claim(3)}).claims, 1);
  auto state =
      reader_.Exec("SELECT next_offset, generation FROM pulse.partition_state");
  ASSERT_EQ(state->rows(), 1);
  EXPECT_EQ(state->GetInt(0, 0), -1);
  EXPECT_EQ(state->GetInt(0, 1), 3);

  EXPECT_EQ(Apply({Message(40, 50, {"z"}, 2)}).rejected, 1);
  EXPECT_EQ(Apply({Message(40, 50, {"u1", "u2"}, 3)}).applied, 1);
  EXPECT_EQ(Apply({Message(40, 50, {"u1", "u2"}, 3)}).skipped, 1);
  auto row = reader_.Exec("SELECT activity_count FROM pulse.collection_hour");
  EXPECT_EQ(row->GetInt(0, 0), 2);
}

TEST_F(SinkApplyTest, WithoutHllExtensionSketchesAreUnionedInCpp) {
  // A database owner that may not create the (untrusted) extension.
  std::string url = SharedPgServer().CreateDatabase("sinkbytea");
  std::string db = url.substr(url.rfind('/') + 1);
  std::string role = "owner_" + db;
  PgConn admin = SharedPgServer().Connect(url);
  ASSERT_TRUE(admin
                  .Run("CREATE ROLE " + role + " LOGIN PASSWORD 'pw'; " +
                       "ALTER DATABASE " + admin.QuoteIdent(db) + " OWNER TO " +
                       role)
                  .ok());
  Open(SharedPgServer().UrlAs(role, "pw", db));
  ASSERT_FALSE(hll_);

  // Three messages over two transactions; the union must cover them all.
  Apply({Message(0, 10, {"a", "b"}), Message(10, 20, {"b", "c"})});
  Apply({Message(20, 30, {"d"})});
  Hll want;
  for (const char* u : {"a", "b", "c", "d"}) {
    want.Add(HllHashBytes(u));
  }
  auto row = reader_.Exec(
      "SELECT activity_count, unique_users, users::text FROM "
      "pulse.collection_hour");
  ASSERT_TRUE(row.ok()) << row.status().ToString();
  EXPECT_EQ(row->GetInt(0, 0), 5);
  EXPECT_EQ(row->GetInt(0, 1), 4);
  EXPECT_EQ(row->GetString(0, 2), ByteaHex(want.Serialize()));
}

// A day-bucket user row of `user` touching `collections`, with the
// activity rows that name them.
void AddUserDay(RollupMessage& m, const std::string& user,
                const std::vector<std::string>& collections) {
  EventTimeMs day = FloorTo(kHour, kMsPerDay);
  Hll sketch;
  for (const std::string& c : collections) {
    sketch.Add(HllHashBytes(c));
    m.activity.push_back({Grain::kDay, day, c, "read", 1});
  }
  auto n = static_cast<int64_t>(collections.size());
  m.users.push_back(
      SketchDelta{Grain::kDay, day, user, n, 0, sketch.Serialize()});
  m.events += n;
}

TEST_F(SinkApplyTest, CollectionsPastTheLastBitAreAnsweredFromSketches) {
  Open(SharedPgServer().CreateDatabase("sinkbits"));
  // 301 collections: "articles" (of Message) and c000 to c254 get the
  // 256 bits, in name order; c255 to c299 get none.
  std::vector<std::string> all;
  for (int i = 0; i < 300; ++i) {
    all.push_back(fmt::format("c{:03}", i));
  }
  RollupMessage first = Message(0, 10, {});
  AddUserDay(first, "everywhere", all);
  AddUserDay(first, "early", {"c000", "c001", "c002"});
  AddUserDay(first, "late", {"c000", "c299"});
  RollupMessage second = Message(10, 20, {});
  AddUserDay(second, "early", {"c002", "c003"});
  Apply({first});
  Apply({second});

  // Rows with a collection past the last bit keep NULL; the others OR.
  auto rows = reader_.Exec(
      "SELECT (SELECT count(*) FROM pulse.collection_bits), "
      "(SELECT max(bit) FROM pulse.collection_bits WHERE collection = "
      "'c254'), string_agg(user_id || '=' || coalesce(bit_count("
      "collections_bits)::text, 'null'), ' ' ORDER BY user_id) FROM "
      "pulse.user_day");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(rows->GetInt(0, 0), 256);
  EXPECT_EQ(rows->GetInt(0, 1), 255);
  EXPECT_EQ(rows->GetString(0, 2), "early=4 everywhere=null late=null");

  // The function answers every user, from bits or from sketches.
  EventTimeMs day = FloorTo(kHour, kMsPerDay);
  auto answer = reader_.Exec(
      "SELECT string_agg(\"user\" || '=' || collections_accessed, ' ' "
      "ORDER BY \"user\") FROM pulse.user_engagement($1, $2)",
      {FormatRfc3339Ms(day), FormatRfc3339Ms(day + kMsPerDay)});
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ(answer->GetString(0, 0), "early=4 everywhere=300 late=2");
}

TEST_F(SinkApplyTest, OlderRowsGetTheirBitmapsOncePerDatabase) {
  std::string url = SharedPgServer().CreateDatabase("sinkfill");
  Open(url);
  RollupMessage m = Message(0, 10, {});
  AddUserDay(m, "u1", {"articles", "pages"});
  AddUserDay(m, "u2", {"pages"});
  AddUserDay(m, "u3", {"articles", "pages", "files"});
  Hll ip_sketch;
  ip_sketch.Add(HllHashBytes("files"));
  m.ips.push_back(SketchDelta{Grain::kHour, kHour, "198.51.100.7", 1, 0,
                              ip_sketch.Serialize()});
  Apply({m});
  const std::string kBits =
      "SELECT string_agg(k || '=' || coalesce(b::text, 'null'), ' ' ORDER "
      "BY k) FROM (SELECT user_id AS k, collections_bits AS b FROM "
      "pulse.user_day UNION ALL SELECT ip, collections_bits FROM "
      "pulse.ip_hour) x";
  auto written = reader_.Exec(kBits);
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  ASSERT_EQ(written->GetString(0, 0).find("null"), std::string::npos);

  // As rows from before migration 004: no bitmaps. A pass of one row per
  // call gives every one back, then says it is done, and records that.
  const std::string kForget =
      "UPDATE pulse.user_day SET collections_bits = NULL; UPDATE "
      "pulse.ip_hour SET collections_bits = NULL";
  ASSERT_TRUE(reader_.Run(kForget).ok());
  int64_t filled = 0;
  int calls = 0;
  for (bool done = false; !done && calls < 50; ++calls) {
    auto step = writer_->FillOlderBitmaps(1);
    ASSERT_TRUE(step.ok()) << step.status().ToString();
    filled += step->filled;
    done = step->done;
  }
  EXPECT_EQ(filled, 4);
  EXPECT_GT(calls, 4);  // a row per call, and the six tables in turn
  auto refilled = reader_.Exec(kBits);
  ASSERT_TRUE(refilled.ok()) << refilled.status().ToString();
  EXPECT_EQ(refilled->GetString(0, 0), written->GetString(0, 0));

  // A later start skips the pass.
  ASSERT_TRUE(reader_.Run(kForget).ok());
  Open(url);
  auto skipped = writer_->FillOlderBitmaps(1000);
  ASSERT_TRUE(skipped.ok()) << skipped.status().ToString();
  EXPECT_TRUE(skipped->done);
  EXPECT_EQ(skipped->filled, 0);
  auto still = reader_.Exec(
      "SELECT count(*) FROM pulse.user_day WHERE collections_bits IS NULL");
  ASSERT_TRUE(still.ok()) << still.status().ToString();
  EXPECT_EQ(still->GetInt(0, 0), 3);
}

}  // namespace
}  // namespace pulse::testing
