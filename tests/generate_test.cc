// `pulse generate` against a real PostgreSQL: what history writes, that it
// is the data HistoryRows recomputes, and how live mode paces, groups rows
// into transactions, survives a restart and stops.

#include "generate/generate.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/harness/pg_server.h"
#include "tests/harness/subprocess.h"

namespace pulse::testing {
namespace {

using generate::HistoryOptions;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr EventTimeMs kEnd = 1'772'323'200'000;  // 2026-03-01T00:00:00Z
constexpr char kEndText[] = "2026-03-01T00:00:00Z";
constexpr char kAttacker[] = "203.0.113.66";

class GenerateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = SharedPgServer().CreateDatabase("generate");
    conn_ = SharedPgServer().Connect(url_);
  }

  HistoryOptions History(int64_t rows, uint64_t seed) const {
    HistoryOptions o;
    o.target.url = url_;
    o.target.generator.seed = seed;
    o.rows = rows;
    o.span = milliseconds(7 * kMsPerDay);
    o.end = kEnd;
    return o;
  }

  void Write(const HistoryOptions& o) {
    auto stats = generate::WriteHistory(o);
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    EXPECT_EQ(stats->rows, o.rows);
  }

  // A single number from SQL; -1 (and a failure) if the query fails.
  int64_t Number(const std::string& sql) {
    auto r = conn_.Exec(sql);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
    return r.ok() ? r->GetInt(0, 0) : -1;
  }

  // Polls until `sql` returns at least `n`, reconnecting across restarts.
  bool WaitForAtLeast(const std::string& sql, int64_t n,
                      milliseconds timeout = seconds(60)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = conn_.Exec(sql);
      if (r.ok() && r->GetInt(0, 0) >= n) {
        return true;
      }
      if (!r.ok()) {
        auto c = PgConn::Connect(url_, "pulse-test");
        if (c.ok()) {
          conn_ = std::move(*c);
        }
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
    return false;
  }

  Subprocess::Options Command(std::vector<std::string> args) const {
    args.insert(args.begin(), {PulseBinary(), "generate"});
    Subprocess::Options o;
    o.argv = std::move(args);
    o.env = {{"PULSE_SOURCE_URL", url_},
             {"PULSE_HTTP_PORT", "0"},
             {"PULSE_PROGRESS_INTERVAL", "1s"}};
    return o;
  }

  std::string url_;
  PgConn conn_;
};

TEST_F(GenerateTest, HistoryCommandWritesExactlyRowsInsideTheWindow) {
  Subprocess p(Command({"history", "--rows", "20000", "--days", "7", "--end",
                        kEndText, "--seed", "3"}));
  ASSERT_EQ(p.Wait(seconds(120)), 0) << p.Stderr();
  EXPECT_NE(p.Stdout().find("rows=20000 "), std::string::npos) << p.Stdout();

  EXPECT_EQ(Number("SELECT count(*) FROM directus_activity"), 20000);
  EXPECT_EQ(Number("SELECT max(id) FROM directus_activity"), 20000);
  EXPECT_EQ(Number("SELECT count(*) FROM directus_activity WHERE "
                   "\"timestamp\" < '2026-02-22T00:00:00Z' OR "
                   "\"timestamp\" >= '2026-03-01T00:00:00Z'"),
            0);
  EXPECT_EQ(
      Number("SELECT count(*) FROM directus_activity WHERE "
             "\"timestamp\" <> date_trunc('milliseconds', \"timestamp\")"),
      0)
      << "the application stamps milliseconds";
  EXPECT_EQ(Number("SELECT count(*) FROM pg_indexes WHERE tablename = "
                   "'directus_activity' AND indexdef LIKE '%(\"timestamp\")%'"),
            1);
}

struct RoundTripCase {
  const char* name;
  double hostile_fraction;
  bool legacy_comment;
};

void PrintTo(const RoundTripCase& c, std::ostream* os) { *os << c.name; }

class GenerateRoundTripTest
    : public GenerateTest,
      public ::testing::WithParamInterface<RoundTripCase> {};

TEST_P(GenerateRoundTripTest, StoredRowsAreExactlyWhatHistoryRowsComputes) {
  HistoryOptions o = History(4000, 77);
  o.target.generator.hostile_fraction = GetParam().hostile_fraction;
  o.target.generator.attacker_ip = kAttacker;
  o.target.legacy_comment = GetParam().legacy_comment;
  o.attacker_rows = 150;
  o.batch_rows = 1500;
  SCOPED_TRACE(::testing::Message() << "seed=" << o.target.generator.seed);
  Write(o);

  auto r = conn_.Exec(
      "SELECT action, \"user\"::text, "
      "(extract(epoch FROM \"timestamp\") * 1000)::bigint, ip, user_agent, "
      "collection, item, origin, " +
      std::string(GetParam().legacy_comment ? "comment" : "NULL") +
      " FROM directus_activity ORDER BY id");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->rows(), 4000);

  // Null and empty differ; every byte of every value survives COPY.
  auto field = [&](int row, int col) -> std::optional<std::string_view> {
    if (r->IsNull(row, col)) {
      return std::nullopt;
    }
    return r->Get(row, col);
  };
  generate::HistoryRows expected(o.target.generator, generate::TimelineFor(o));
  generate::ActivityRow e;
  for (int i = 0; i < r->rows(); ++i) {
    ASSERT_TRUE(expected.Next(e));
    SCOPED_TRACE(::testing::Message() << "id " << i + 1);
    ASSERT_EQ(r->Get(i, 0), e.action);
    ASSERT_EQ(field(i, 1), e.user);
    ASSERT_EQ(r->GetInt(i, 2), e.timestamp);
    ASSERT_EQ(field(i, 3), e.ip);
    ASSERT_EQ(field(i, 4), e.user_agent);
    ASSERT_EQ(r->Get(i, 5), e.collection);
    ASSERT_EQ(r->Get(i, 6), e.item);
    ASSERT_EQ(field(i, 7), e.origin);
    if (GetParam().legacy_comment) {
      ASSERT_EQ(field(i, 8), e.comment);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, GenerateRoundTripTest,
    ::testing::Values(RoundTripCase{"Plain", 0, false},
                      RoundTripCase{"Hostile", 0.3, false},
                      RoundTripCase{"HostileLegacy", 0.3, true}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(GenerateTest, SameSeedSameRowsOtherSeedOtherRows) {
  // Three databases of one server; the content digest ignores nothing but
  // the id.
  const std::string digest =
      "SELECT md5(string_agg((action, \"user\", \"timestamp\", ip, "
      "user_agent, collection, item, origin)::text, E'\\n' ORDER BY id)) "
      "FROM directus_activity";
  std::vector<std::string> digests;
  for (uint64_t seed : {5, 5, 6}) {
    SCOPED_TRACE(::testing::Message() << "seed=" << seed);
    std::string url = SharedPgServer().CreateDatabase("generate_seed");
    HistoryOptions o = History(3000, seed);
    o.target.url = url;
    Write(o);
    PgConn c = SharedPgServer().Connect(url);
    auto r = c.Exec(digest);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    digests.push_back(r->GetString(0, 0));
  }
  EXPECT_EQ(digests[0], digests[1]);
  EXPECT_NE(digests[0], digests[2]);
}

TEST_F(GenerateTest, DistributionsHoldAtOneHundredThousandRows) {
  const int64_t n = 100'000;
  SCOPED_TRACE("seed=21");
  Write(History(n, 21));

  // Action shares within a percentage point or two of the design.
  struct Share {
    const char* action;
    double share;
  };
  for (const Share& s : {Share{"create", 0.30},
                         {"update", 0.45},
                         {"delete", 0.05},
                         {"login", 0.10},
                         {"logout", 0.05}}) {
    SCOPED_TRACE(s.action);
    int64_t c = Number(std::string("SELECT count(*) FROM directus_activity "
                                   "WHERE action = '") +
                       s.action + "'");
    EXPECT_NEAR(static_cast<double>(c) / n, s.share, 0.02);
  }
  int64_t no_user =
      Number("SELECT count(*) FROM directus_activity WHERE \"user\" IS NULL");
  EXPECT_NEAR(static_cast<double>(no_user) / n, 0.10, 0.015);

  // Flows leave no client trace; sessions land on directus_users.
  EXPECT_EQ(Number("SELECT count(*) FROM directus_activity WHERE \"user\" IS "
                   "NULL AND (ip IS NOT NULL OR user_agent IS NOT NULL OR "
                   "origin IS NOT NULL)"),
            0);
  EXPECT_EQ(Number("SELECT count(*) FROM directus_activity WHERE action IN "
                   "('login', 'logout') AND collection <> 'directus_users'"),
            0);

  // A Zipf head: the busiest collection is far ahead of the fifth.
  auto r = conn_.Exec(
      "SELECT count(*) FROM directus_activity WHERE action IN ('create', "
      "'update', 'delete') GROUP BY collection ORDER BY 1 DESC");
  ASSERT_TRUE(r.ok());
  ASSERT_GE(r->rows(), 30);
  EXPECT_GT(r->GetInt(0, 0), 2 * r->GetInt(4, 0));
  EXPECT_GT(Number("SELECT count(DISTINCT \"user\") FROM directus_activity"),
            1000);
  EXPECT_GT(Number("SELECT count(DISTINCT ip) FROM directus_activity"), 2000);
}

TEST_F(GenerateTest, AttackerBurstExceedsTheSuspiciousThresholds) {
  HistoryOptions o = History(50'000, 8);
  o.target.generator.attacker_ip = kAttacker;
  o.attacker_rows = 300;
  SCOPED_TRACE("seed=8");
  Write(o);

  // >100 actions in 60 minutes, and >=20 logins within 10 minutes.
  const std::string from =
      std::string(" FROM directus_activity WHERE ip = '") + kAttacker + "'";
  EXPECT_EQ(Number("SELECT count(*)" + from), 300);
  EXPECT_LE(Number("SELECT extract(epoch FROM max(\"timestamp\") - "
                   "min(\"timestamp\"))::bigint" +
                   from),
            600);
  EXPECT_GE(Number("SELECT count(*)" + from + " AND action = 'login'"), 20);

  // Nobody else comes near the threshold in any clock hour.
  EXPECT_LT(Number("SELECT max(c) FROM (SELECT count(*) c FROM "
                   "directus_activity WHERE ip IS DISTINCT FROM '" +
                   std::string(kAttacker) +
                   "' GROUP BY ip, date_trunc('hour', \"timestamp\")) x"),
            100);
}

TEST_F(GenerateTest, LegacyShapeHasACommentColumnMostlyNull) {
  HistoryOptions o = History(20'000, 4);
  o.target.legacy_comment = true;
  Write(o);
  EXPECT_EQ(Number("SELECT count(*) FROM information_schema.columns WHERE "
                   "table_name = 'directus_activity' AND column_name = "
                   "'comment' AND data_type = 'text'"),
            1);
  int64_t with_comment = Number(
      "SELECT count(*) FROM directus_activity WHERE comment IS NOT NULL");
  EXPECT_GT(with_comment, 0);
  EXPECT_LT(with_comment, 20'000 / 20);
}

TEST_F(GenerateTest, ExistingTableIsLeftAsItIsAndItsSequenceContinues) {
  // A Directus 11 table: no timestamp index, one row already there.
  ASSERT_TRUE(conn_
                  .Run("CREATE TABLE directus_activity (id serial PRIMARY "
                       "KEY, action varchar(45) NOT NULL, \"user\" uuid, "
                       "\"timestamp\" timestamptz NOT NULL DEFAULT now(), ip "
                       "varchar(50), user_agent text, collection varchar(64) "
                       "NOT NULL, item varchar(255) NOT NULL, origin "
                       "varchar(255)); INSERT INTO directus_activity (action, "
                       "collection, item) VALUES ('create', 'marker', '1')")
                  .ok());

  HistoryOptions o = History(1000, 2);
  o.target.legacy_comment = true;  // ignored: the table exists
  Write(o);

  EXPECT_EQ(Number("SELECT count(*) FROM directus_activity WHERE id = 1 AND "
                   "collection = 'marker'"),
            1);
  EXPECT_EQ(Number("SELECT min(id) FROM directus_activity WHERE id > 1"), 2);
  EXPECT_EQ(Number("SELECT max(id) FROM directus_activity"), 1001);
  EXPECT_EQ(Number("SELECT count(*) FROM pg_indexes WHERE tablename = "
                   "'directus_activity'"),
            1)
      << "only the primary key: no index was added";
}

TEST_F(GenerateTest, StopRequestAbandonsTheOpenBatch) {
  StopSignal stop;
  stop.Request("test");
  HistoryOptions o = History(5000, 1);
  o.target.stop = &stop;
  auto stats = generate::WriteHistory(o);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().code(), Status::Code::kCancelled);
  EXPECT_EQ(Number("SELECT count(*) FROM directus_activity"), 0);
}

TEST_F(GenerateTest, LiveInsertsAtTheRateInSmallTransactionsUntilSigterm) {
  Subprocess p(Command({"live", "--rate", "200", "--seed", "12"}));
  ASSERT_TRUE(WaitForAtLeast("SELECT count(*) FROM directus_activity", 1000))
      << p.Stderr();
  ASSERT_EQ(p.Stop(), 0) << p.Stderr();
  EXPECT_NE(p.Stdout().find("rows="), std::string::npos);

  // Rows sharing an xmin were one transaction: 1 to 5 rows each.
  EXPECT_EQ(Number("SELECT min(n) FROM (SELECT count(*) n FROM "
                   "directus_activity GROUP BY xmin::text) x"),
            1);
  EXPECT_EQ(Number("SELECT max(n) FROM (SELECT count(*) n FROM "
                   "directus_activity GROUP BY xmin::text) x"),
            5);

  // Rows per second of event time, the initial burst left out.
  int64_t rows = Number("SELECT count(*) FROM directus_activity");
  int64_t span_ms = Number(
      "SELECT (extract(epoch FROM max(\"timestamp\") - min(\"timestamp\")) "
      "* 1000)::bigint FROM directus_activity");
  ASSERT_GT(span_ms, 0);
  double rate = static_cast<double>(rows - 20) * 1000 / span_ms;
  EXPECT_GT(rate, 200 * 0.7);
  EXPECT_LT(rate, 200 * 1.3);
}

TEST_F(GenerateTest, LiveKeepsWritingAcrossAPostgresRestart) {
  Subprocess p(Command({"live", "--rate", "100"}));
  const std::string count = "SELECT count(*) FROM directus_activity";
  ASSERT_TRUE(WaitForAtLeast(count, 200)) << p.Stderr();

  ASSERT_TRUE(SharedPgServer().Restart("fast"));
  conn_ = SharedPgServer().Connect(url_);
  int64_t after_restart = Number(count);
  ASSERT_TRUE(WaitForAtLeast(count, after_restart + 300)) << p.Stderr();
  EXPECT_TRUE(p.WaitForStderr("generate_reconnected", seconds(10)));
  EXPECT_EQ(p.Stop(), 0) << p.Stderr();
}

TEST_F(GenerateTest, LiveAttackerBurstArrivesInFull) {
  Subprocess p(Command({"live", "--rate", "20", "--attacker-ip", kAttacker,
                        "--attacker-burst", "120", "--attacker-window", "3s"}));
  const std::string attacker =
      std::string("SELECT count(*) FROM directus_activity WHERE ip = '") +
      kAttacker + "'";
  ASSERT_TRUE(WaitForAtLeast(attacker, 120)) << p.Stderr();
  EXPECT_EQ(p.Stop(), 0) << p.Stderr();
  EXPECT_EQ(Number(attacker), 120) << "a burst stops at its size";
  EXPECT_GE(Number(attacker + " AND action = 'login'"), 20);
}

TEST(GenerateCommandTest, MissingUrlIsAConfigurationError) {
  Subprocess::Options o;
  o.argv = {PulseBinary(), "generate", "history", "--rows", "10"};
  o.env = {{"PULSE_SOURCE_URL", ""}};
  Subprocess p(o);
  EXPECT_EQ(p.Wait(seconds(30)), 2) << p.Stderr();
  EXPECT_NE(p.Stderr().find("source.url"), std::string::npos) << p.Stderr();
}

}  // namespace
}  // namespace pulse::testing
