// The SQL functions of schemas/migrations/002_functions.sql against the raw
// table they summarise: synthetic history (generate::WriteHistory), rollup
// tables built from it by the reference builder, then, for many ranges,
// every function must return what the raw query returns. Also: bounds that
// are not minute-aligned, retention answered at a coarser resolution with
// a notice, and `pulse reconcile` on good and corrupted rollups.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "generate/generate.h"
#include "sink/notices.h"
#include "sink/schema.h"
#include "tests/harness/pg_server.h"
#include "tests/harness/subprocess.h"
#include "tests/rollup_reference.h"

namespace pulse::testing {
namespace {

using std::chrono::milliseconds;
using Rows = std::vector<std::vector<std::string>>;

constexpr EventTimeMs kEnd = 1'772'323'200'000;  // 2026-03-01T00:00:00Z
constexpr EventTimeMs kDay = kMsPerDay;
constexpr EventTimeMs kHour = kMsPerHour;
constexpr EventTimeMs kMin = kMsPerMinute;
constexpr sink::RetentionSettings kKeepAll{milliseconds(0), milliseconds(0),
                                           milliseconds(0)};

// Raw questions and the functions that must answer them alike; $1 since,
// $2 until, $3 the question's own argument. Every value is text.
constexpr std::string_view kWhere =
    " FROM directus_activity WHERE \"timestamp\" >= $1 AND \"timestamp\" < $2";
struct Pair {
  std::string_view name;
  std::string raw;
  std::string function;
};
const Pair kCollections{
    "collection_activity",
    "SELECT collection::text, count(*)::text, count(DISTINCT \"user\")::text" +
        std::string(kWhere) + " GROUP BY 1",
    "SELECT collection, activity_count::text, unique_users::text "
    "FROM pulse.collection_activity($1, $2)"};
const Pair kActions{
    "action_timeseries",
    "SELECT extract(epoch FROM date_trunc($3, \"timestamp\", 'UTC'))::bigint"
    "::text, action::text, count(*)::text" +
        std::string(kWhere) + " GROUP BY 1, 2",
    "SELECT extract(epoch FROM bucket)::bigint::text, action, "
    "activity_count::text FROM pulse.action_timeseries($1, $2, $3)"};
const Pair kIps{"suspicious_ips",
                "SELECT ip::text, count(*)::text, count(DISTINCT collection)"
                "::text" +
                    std::string(kWhere) +
                    " AND ip IS NOT NULL GROUP BY 1 HAVING count(*) >= $3",
                "SELECT ip, activity_count::text, collections_accessed::text "
                "FROM pulse.suspicious_ips($1, $2, $3)"};
const Pair kUsers{"user_engagement",
                  "SELECT \"user\"::text, count(*)::text, count(DISTINCT "
                  "collection)::text" +
                      std::string(kWhere) +
                      " AND \"user\" IS NOT NULL GROUP BY 1",
                  "SELECT \"user\", activity_count::text, "
                  "collections_accessed::text "
                  "FROM pulse.user_engagement($1, $2)"};
const Pair kUniques{"unique_users",
                    "SELECT count(DISTINCT \"user\")::text" +
                        std::string(kWhere) +
                        " AND ($3::text IS NULL OR collection = $3)",
                    "SELECT pulse.unique_users($1, $2, $3)::text"};

struct Range {
  std::string label;
  EventTimeMs since;
  EventTimeMs until;
};

std::string Fmt(EventTimeMs t) { return FormatRfc3339Ms(t); }

// All rows as text (NULL as "NULL"), sorted: the functions' order is not
// the raw queries'.
Rows Fetch(PgConn& c, const std::string& sql, const PgParams& params) {
  auto r = c.Exec(sql, params);
  EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
  Rows rows;
  for (int i = 0; r.ok() && i < r->rows(); ++i) {
    std::vector<std::string> row;
    for (int col = 0; col < r->columns(); ++col) {
      row.push_back(r->IsNull(i, col) ? "NULL" : r->GetString(i, col));
    }
    rows.push_back(std::move(row));
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

std::string Join(const std::vector<std::string>& row) {
  std::string out;
  for (const std::string& v : row) {
    out += (out.empty() ? "" : " | ") + v;
  }
  return out;
}

// Equal row sets, or a failure naming the first rows that differ.
::testing::AssertionResult SameRows(const Rows& raw, const Rows& rollup) {
  if (raw == rollup) {
    return ::testing::AssertionSuccess();
  }
  Rows only_raw;
  Rows only_rollup;
  std::set_difference(raw.begin(), raw.end(), rollup.begin(), rollup.end(),
                      std::back_inserter(only_raw));
  std::set_difference(rollup.begin(), rollup.end(), raw.begin(), raw.end(),
                      std::back_inserter(only_rollup));
  auto failure = ::testing::AssertionFailure();
  failure << raw.size() << " raw rows, " << rollup.size() << " rollup rows";
  for (size_t i = 0; i < std::min<size_t>(only_raw.size(), 3); ++i) {
    failure << "\n  raw only:    " << Join(only_raw[i]);
  }
  for (size_t i = 0; i < std::min<size_t>(only_rollup.size(), 3); ++i) {
    failure << "\n  rollup only: " << Join(only_rollup[i]);
  }
  return failure;
}

// Migrates, writes `rows` rows over the `days` days before kEnd (with an
// attacker burst and hostile values) and builds the rollups from them.
void BuildDataset(const std::string& url, int64_t rows, int days, uint64_t seed,
                  const sink::RetentionSettings& retention) {
  PgConn conn = SharedPgServer().Connect(url);
  auto schema = sink::MigrateSchema(conn, retention);
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  generate::HistoryOptions h;
  h.target.url = url;
  h.target.generator.seed = seed;
  h.target.generator.hostile_fraction = 0.01;
  h.target.generator.attacker_ip = "203.0.113.66";
  h.rows = rows;
  h.attacker_rows = rows / 100;
  h.span = milliseconds(days * kDay);
  h.end = kEnd;
  auto written = generate::WriteHistory(h);
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  Status built = BuildRollupsFromRaw(conn, {});
  ASSERT_TRUE(built.ok()) << built.ToString();
}

class SinkFunctionsTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kSeed = 20260301;
  static constexpr int kDays = 4;

  // One read-only dataset for the whole suite: 100k rows over 4 days.
  static void SetUpTestSuite() {
    url_ = new std::string(SharedPgServer().CreateDatabase("functions"));
    BuildDataset(*url_, 100'000, kDays, kSeed, kKeepAll);
  }
  static void TearDownTestSuite() { delete url_; }

  void SetUp() override {
    conn_ = SharedPgServer().Connect(*url_);
    auto r = conn_.Exec(
        "SELECT DISTINCT collection::text FROM "
        "directus_activity ORDER BY 1");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    for (int i = 0; i < r->rows(); ++i) {
      collections_.push_back(r->GetString(i, 0));
    }
  }

  void Check(const Pair& p, const Range& r, std::optional<std::string> arg) {
    SCOPED_TRACE(std::string(p.name) + " arg=" + arg.value_or("NULL"));
    PgParams params = {Fmt(r.since), Fmt(r.until)};
    if (p.raw.find("$3") != std::string::npos) {
      params.push_back(arg);
    }
    EXPECT_TRUE(SameRows(Fetch(conn_, p.raw, params),
                         Fetch(conn_, p.function, params)));
  }

  // Every function over one range, compared with its raw query; a
  // minute-aligned range inside retention draws no notice.
  void CheckAll(const Range& r, std::mt19937_64& rng) {
    SCOPED_TRACE(r.label + " [" + Fmt(r.since) + ", " + Fmt(r.until) + ")");
    sink::NoticeCollector notices(conn_);
    Check(kCollections, r, std::nullopt);
    Check(kActions, r, "hour");
    Check(kActions, r, "day");
    if (r.until - r.since <= 6 * kHour) {
      Check(kActions, r, "minute");
    }
    const char* kMinActions[] = {"1", "20", "100"};
    Check(kIps, r, kMinActions[rng() % 3]);
    Check(kUsers, r, std::nullopt);
    Check(kUniques, r, std::nullopt);
    Check(kUniques, r, collections_[rng() % collections_.size()]);
    EXPECT_EQ(Join(notices.Take()), "");
  }

  static std::string* url_;
  PgConn conn_;
  std::vector<std::string> collections_;
};

std::string* SinkFunctionsTest::url_ = nullptr;

TEST_F(SinkFunctionsTest, ChosenRangesEqualTheRawQueries) {
  const EventTimeMs d0 = kEnd - kDays * kDay;
  const Range kRanges[] = {
      {"exactly one day", d0 + kDay, d0 + 2 * kDay},
      {"across midnight", d0 + 2 * kDay - 30 * kMin, d0 + 2 * kDay + 45 * kMin},
      {"inside one hour", d0 + kDay + 3 * kHour + 5 * kMin,
       d0 + kDay + 3 * kHour + 20 * kMin},
      {"across an hour", d0 + 10 * kHour - 10 * kMin,
       d0 + 10 * kHour + 10 * kMin},
      {"whole hours", d0 + 5 * kHour, d0 + 17 * kHour},
      {"five segments", d0 + 7 * kHour + 13 * kMin,
       kEnd - 5 * kHour - 27 * kMin},
      {"one minute", d0 + 3 * kDay + 59 * kMin, d0 + 3 * kDay + 60 * kMin},
      {"all data and more", d0 - kDay, kEnd + kDay},
      {"before the data", d0 - 3 * kDay, d0 - kDay},
      {"empty", d0 + 5 * kHour, d0 + 5 * kHour},
      {"reversed", d0 + 6 * kHour, d0 + 5 * kHour},
  };
  std::mt19937_64 rng(kSeed);
  SCOPED_TRACE("seed " + std::to_string(kSeed));
  for (const Range& r : kRanges) {
    CheckAll(r, rng);
  }
}

TEST_F(SinkFunctionsTest, RandomMinuteAlignedRangesEqualTheRawQueries) {
  const uint64_t seed = kSeed + 1;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const EventTimeMs first = kEnd - kDays * kDay - 2 * kHour;
  const int64_t span_minutes = (kDays * kDay + 4 * kHour) / kMin;
  // Lengths: under an hour, under a day, up to the whole history.
  const int64_t kMaxLength[] = {59, 24 * 60, kDays * 24 * 60};
  for (int i = 0; i < 36; ++i) {
    EventTimeMs since =
        first + static_cast<int64_t>(rng() % span_minutes) * kMin;
    int64_t max_len = kMaxLength[i % 3];
    EventTimeMs until =
        since + (1 + static_cast<int64_t>(rng() % max_len)) * kMin;
    CheckAll({"random #" + std::to_string(i), since, until}, rng);
  }
}

TEST_F(SinkFunctionsTest, KeysWithoutBitmapsAreAnsweredFromSketches) {
  // Rows from before migration 004, or touching a collection without a
  // number, have NULL bitmaps: first a third of the rows, so that keys mix
  // both kinds, then all of them. Undone at the end: the dataset is shared.
  const uint64_t seed = kSeed + 2;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const EventTimeMs d0 = kEnd - kDays * kDay;
  ASSERT_TRUE(conn_.Run("BEGIN").ok());
  for (bool all : {false, true}) {
    SCOPED_TRACE(all ? "every bitmap NULL" : "a third of the bitmaps NULL");
    for (const char* kind : {"user", "ip"}) {
      for (const char* grain : {"minute", "hour", "day"}) {
        const char* key = std::string(kind) == "user" ? "user_id" : "ip";
        Status st = conn_.Run(fmt::format(
            "UPDATE pulse.{0}_{1} SET collections_bits = NULL WHERE {2}", kind,
            grain,
            all ? "true"
                : fmt::format("hashtext({} || bucket::text) % 3 = 0", key)));
        ASSERT_TRUE(st.ok()) << st.ToString();
      }
    }
    CheckAll({"all data", d0 - kDay, kEnd + kDay}, rng);
    CheckAll({"five segments", d0 + 7 * kHour + 13 * kMin,
              kEnd - 5 * kHour - 27 * kMin},
             rng);
    CheckAll({"across midnight", d0 + 2 * kDay - 30 * kMin,
              d0 + 2 * kDay + 45 * kMin},
             rng);
  }
  ASSERT_TRUE(conn_.Run("ROLLBACK").ok());
}

TEST_F(SinkFunctionsTest, UnalignedBoundsAreFlooredToTheMinuteWithANotice) {
  const EventTimeMs since = kEnd - 2 * kDay + 3 * kHour + 7 * kMin;
  const EventTimeMs until = kEnd - kDay + 11 * kMin;
  sink::NoticeCollector notices(conn_);
  Rows got = Fetch(conn_, kCollections.function,
                   {Fmt(since + 31'500), Fmt(until + 59'999)});
  EXPECT_TRUE(
      SameRows(Fetch(conn_, kCollections.raw, {Fmt(since), Fmt(until)}), got));
  std::vector<std::string> said = notices.Take();
  ASSERT_EQ(said.size(), 1u);
  EXPECT_NE(said[0].find("floored to the minute"), std::string::npos)
      << said[0];
}

TEST_F(SinkFunctionsTest, UnknownGranularityIsAnError) {
  auto r = conn_.Exec(
      "SELECT * FROM pulse.action_timeseries(now() - interval '1 day', now(), "
      "'week')");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("minute, hour or day"), std::string::npos)
      << r.status().message();
}

TEST_F(SinkFunctionsTest, QueryCommandPrintsTheFunctionColumns) {
  const std::string since = Fmt(kEnd - 2 * kDay);
  const std::string until = Fmt(kEnd - kDay);
  Subprocess json({.argv = {PulseBinary(), "query", "users", "--since", since,
                            "--until", until, "--json", "--limit", "2"},
                   .env = {{"PULSE_TARGET_URL", *url_}}});
  ASSERT_EQ(json.Wait(std::chrono::seconds(60)), 0) << json.Stderr();
  EXPECT_EQ(json.Stdout().rfind("[{\"user\":\"", 0), 0u) << json.Stdout();
  EXPECT_NE(json.Stdout().find("\"collections_accessed\":"), std::string::npos);

  Subprocess table({.argv = {PulseBinary(), "query", "actions", "--since",
                             since, "--until", until, "--granularity", "day"},
                    .env = {{"PULSE_TARGET_URL", *url_}}});
  ASSERT_EQ(table.Wait(std::chrono::seconds(60)), 0) << table.Stderr();
  // Columns: 24-character times, then two spaces.
  EXPECT_EQ(table.Stdout().rfind("bucket" + std::string(20, ' ') + "action", 0),
            0u)
      << table.Stdout();
  EXPECT_NE(table.Stdout().find(Fmt(kEnd - 2 * kDay) + "  create"),
            std::string::npos)
      << table.Stdout();
}

// Databases whose rollups get changed: retention and corrupted rows.
class SinkFunctionsChangedRollupsTest : public ::testing::Test {
 protected:
  void Build(const sink::RetentionSettings& r, uint64_t seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    url_ = SharedPgServer().CreateDatabase("rollups");
    BuildDataset(url_, 30'000, 4, seed, r);
    conn_ = SharedPgServer().Connect(url_);
  }

  // Deletes buckets past their retention, as the sink does.
  void Expire(std::string_view grain) {
    for (std::string_view t : {"activity", "collection", "user", "ip"}) {
      std::string table = "pulse." + std::string(t) + "_" + std::string(grain);
      Status st =
          conn_
              .Exec("DELETE FROM " + conn_.QuoteIdent(table) +
                        " WHERE bucket < now() - (SELECT value::interval FROM "
                        "pulse.settings WHERE key = $1)",
                    {"retention." + std::string(grain)})
              .status();
      ASSERT_TRUE(st.ok()) << st.ToString();
    }
  }

  // The function over [since, until) equals the raw query over
  // [raw_since, raw_until), with one notice containing `said`.
  void ExpectCoarse(const Pair& p, std::optional<std::string> arg,
                    EventTimeMs since, EventTimeMs until, EventTimeMs raw_since,
                    EventTimeMs raw_until, std::string_view said) {
    SCOPED_TRACE(std::string(p.name) + " [" + Fmt(since) + ", " + Fmt(until) +
                 ")");
    sink::NoticeCollector notices(conn_);
    PgParams asked = {Fmt(since), Fmt(until)};
    PgParams answered = {Fmt(raw_since), Fmt(raw_until)};
    if (p.raw.find("$3") != std::string::npos) {
      asked.push_back(arg);
      answered.push_back(arg);
    }
    Rows got = Fetch(conn_, p.function, asked);
    EXPECT_TRUE(SameRows(Fetch(conn_, p.raw, answered), got));
    std::string text = Join(notices.Take());
    if (said.empty()) {
      EXPECT_EQ(text, "");
    } else {
      EXPECT_NE(text.find(said), std::string::npos) << text;
    }
  }

  std::string url_;
  PgConn conn_;
};

TEST_F(SinkFunctionsChangedRollupsTest,
       ExpiredMinuteBucketsAreAnsweredAtHourResolution) {
  // Minute buckets are kept from kEnd - 2 days on (the cutoff, half an
  // hour earlier, rounds up to that hour).
  const EventTimeMs kept_from = kEnd - 2 * kDay;
  Build({milliseconds(NowMs() - kept_from + 30 * kMin), milliseconds(0),
         milliseconds(0)},
        41);
  Expire("minute");

  const EventTimeMs old = kEnd - 3 * kDay;
  ExpectCoarse(kCollections, std::nullopt, old + 3 * kHour + 17 * kMin,
               old + 9 * kHour + 41 * kMin, old + 3 * kHour, old + 10 * kHour,
               "answered at hour resolution");
  ExpectCoarse(kUsers, std::nullopt, kept_from - 5 * kHour + 13 * kMin,
               kEnd - kDay + 7 * kMin, kept_from - 5 * kHour,
               kEnd - kDay + 7 * kMin, "answered at hour resolution");
  // Hour-aligned and old: exact (no minute bucket is needed), no notice.
  ExpectCoarse(kIps, "1", old + 2 * kHour, old + 30 * kHour, old + 2 * kHour,
               old + 30 * kHour, "");
  // Newer than the cutoff: minute resolution as usual.
  ExpectCoarse(kCollections, std::nullopt, kEnd - kDay + 13 * kMin,
               kEnd - kDay + 3 * kHour + 1 * kMin, kEnd - kDay + 13 * kMin,
               kEnd - kDay + 3 * kHour + 1 * kMin, "");
  // A minute time series over expired minutes comes back in hour buckets.
  sink::NoticeCollector notices(conn_);
  Rows minute = Fetch(conn_, kActions.function,
                      {Fmt(old + 4 * kHour), Fmt(old + 6 * kHour), "minute"});
  Rows hourly = Fetch(conn_, kActions.raw,
                      {Fmt(old + 4 * kHour), Fmt(old + 6 * kHour), "hour"});
  EXPECT_TRUE(SameRows(hourly, minute));
  EXPECT_NE(Join(notices.Take()).find("hour resolution"), std::string::npos);
}

TEST_F(SinkFunctionsChangedRollupsTest,
       ExpiredHourBucketsAreAnsweredAtDayResolution) {
  const EventTimeMs hours_from = kEnd - 3 * kDay;
  Build({milliseconds(NowMs() - (kEnd - kDay) + 30 * kMin),
         milliseconds(NowMs() - hours_from + 2 * kHour), milliseconds(0)},
        42);
  Expire("minute");
  Expire("hour");

  const EventTimeMs old = kEnd - 4 * kDay;
  ExpectCoarse(kCollections, std::nullopt, old + 5 * kHour + 3 * kMin,
               old + 20 * kHour, old, old + kDay, "answered at day resolution");
  ExpectCoarse(kUniques, std::nullopt, old + 5 * kHour, hours_from + 3 * kHour,
               old, hours_from + 3 * kHour, "answered at day resolution");
}

TEST_F(SinkFunctionsChangedRollupsTest, ReconcileExitsZeroOnCorrectRollups) {
  Build(kKeepAll, 43);
  Subprocess run({.argv = {PulseBinary(), "reconcile", "--since",
                           Fmt(kEnd - 4 * kDay + 90 * kMin), "--until",
                           Fmt(kEnd - 17 * kMin)},
                  .env = {{"PULSE_SOURCE_URL", url_}}});
  ASSERT_EQ(run.Wait(std::chrono::seconds(120)), 0)
      << run.Stdout() << run.Stderr();
  EXPECT_NE(run.Stdout().find("days=4 "), std::string::npos) << run.Stdout();
  EXPECT_NE(run.Stdout().find("mismatches=0"), std::string::npos)
      << run.Stdout();
  EXPECT_NE(run.Stderr().find("day_reconciled"), std::string::npos);
}

TEST_F(SinkFunctionsChangedRollupsTest,
       ReconcileListsACorruptedCountAndExitsOne) {
  Build(kKeepAll, 44);
  auto hit = conn_.Exec(
      "UPDATE pulse.collection_day SET activity_count = activity_count + 1 "
      "WHERE id = (SELECT min(id) FROM pulse.collection_day WHERE bucket = "
      "$1 AND collection ~ '^[a-z_]+$') "
      "RETURNING collection, activity_count - 1, activity_count",
      {Fmt(kEnd - 2 * kDay)});
  ASSERT_TRUE(hit.ok() && hit->rows() == 1) << hit.status().ToString();

  Subprocess run(
      {.argv = {PulseBinary(), "reconcile", "--since", Fmt(kEnd - 4 * kDay),
                "--until", Fmt(kEnd), "--json"},
       .env = {{"PULSE_SOURCE_URL", url_}}});
  ASSERT_EQ(run.Wait(std::chrono::seconds(120)), 1)
      << run.Stdout() << run.Stderr();
  std::string expected =
      "{\"question\":\"collection_activity\",\"day\":\"" +
      Fmt(kEnd - 2 * kDay).substr(0, 10) + "\",\"key\":\"" +
      hit->GetString(0, 0) + "\",\"field\":\"activity_count\",\"raw\":\"" +
      hit->GetString(0, 1) + "\",\"rollup\":\"" + hit->GetString(0, 2) + "\"}";
  EXPECT_NE(run.Stdout().find("\"mismatches\":[" + expected + "]"),
            std::string::npos)
      << run.Stdout();
}

}  // namespace
}  // namespace pulse::testing
