// The rollup schema in a real PostgreSQL: migrating from empty, re-runs
// that apply nothing, refusing a newer database, the settings written at
// every start, concurrent starts, the migration template language, and the
// path without the hll extension (bytea sketches; SQL counts but cannot
// merge; `pulse query` merges in C++ instead).

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "common/hll.h"
#include "generate/generate.h"
#include "sink/migrations.h"
#include "sink/notices.h"
#include "sink/query.h"
#include "sink/schema.h"
#include "tests/harness/pg_server.h"
#include "tests/harness/subprocess.h"
#include "tests/rollup_reference.h"

namespace pulse::testing {
namespace {

using sink::Migration;
using sink::NewestMigrationVersion;
using sink::RetentionSettings;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;

constexpr EventTimeMs kEnd = 1'772'323'200'000;  // 2026-03-01T00:00:00Z
constexpr RetentionSettings kKeepAll{milliseconds(0), milliseconds(0),
                                     milliseconds(0)};

class SinkSchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = SharedPgServer().CreateDatabase("schema");
    conn_ = SharedPgServer().Connect(url_);
  }

  std::string DbName() const { return url_.substr(url_.rfind('/') + 1); }

  // The first value of a query as text ("NULL" for NULL, "" on error).
  std::string Text(PgConn& c, const std::string& sql) {
    auto r = c.Exec(sql);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
    if (!r.ok() || r->rows() == 0) {
      return "";
    }
    return r->IsNull(0, 0) ? "NULL" : r->GetString(0, 0);
  }
  std::string Text(const std::string& sql) { return Text(conn_, sql); }

  // A new role owning the test's database, as an ordinary managed
  // database gives: it may not create untrusted extensions (hll is one).
  // Returns its connection URL.
  std::string OwnerWithoutSuperuser(const std::string& prefix) {
    const std::string role = prefix + "_" + DbName();
    const std::string password = prefix + "_pw";
    Status st = conn_.Run("CREATE ROLE " + conn_.QuoteIdent(role) +
                          " LOGIN PASSWORD '" + password +
                          "'; ALTER DATABASE " + conn_.QuoteIdent(DbName()) +
                          " OWNER TO " + conn_.QuoteIdent(role));
    EXPECT_TRUE(st.ok()) << st.ToString();
    return SharedPgServer().UrlAs(role, password, DbName());
  }

  void Migrate(PgConn& c, const RetentionSettings& r = {}) {
    auto info = sink::MigrateSchema(c, r);
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(info->version, NewestMigrationVersion());
  }

  std::string url_;
  PgConn conn_;
};

TEST_F(SinkSchemaTest, MigratesAnEmptyDatabaseToTheNewestVersion) {
  auto info = sink::MigrateSchema(conn_, {});
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->version, NewestMigrationVersion());
  EXPECT_TRUE(info->hll);
  EXPECT_EQ(info->hll_schema, "public");

  // Every embedded file is recorded once, in order.
  std::string expected;
  for (const Migration& m : sink::EmbeddedMigrations()) {
    expected += (expected.empty() ? "" : ",") + std::to_string(m.version) +
                ":" + std::string(m.name);
  }
  EXPECT_EQ(Text("SELECT string_agg(version || ':' || name, ',' ORDER BY "
                 "version) FROM pulse.schema_version"),
            expected);
  EXPECT_EQ(Text("SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                 "WHERE attrelid = 'pulse.user_day'::regclass AND attname = "
                 "'collections'"),
            "hll");

  // The functions answer on empty tables.
  EXPECT_EQ(Text("SELECT count(*) FROM pulse.collection_activity("
                 "'2026-01-01Z', '2026-02-01Z')"),
            "0");
  EXPECT_EQ(Text("SELECT pulse.unique_users('2026-01-01Z', '2026-02-01Z')"),
            "0");
  EXPECT_EQ(Text("SELECT newest_event_time FROM pulse.freshness()"), "NULL");
}

TEST_F(SinkSchemaTest, SecondRunAppliesNothingAndKeepsData) {
  Migrate(conn_);
  ASSERT_TRUE(conn_
                  .Run("INSERT INTO pulse.activity_day (bucket, collection, "
                       "action, activity_count) VALUES ('2026-01-01Z', "
                       "'articles', 'create', 7)")
                  .ok());
  std::string applied = Text(
      "SELECT string_agg(version || '@' || applied_at, ',') FROM "
      "pulse.schema_version");

  Migrate(conn_);
  EXPECT_EQ(Text("SELECT string_agg(version || '@' || applied_at, ',') FROM "
                 "pulse.schema_version"),
            applied);
  EXPECT_EQ(Text("SELECT activity_count FROM pulse.activity_day"), "7");
}

TEST_F(SinkSchemaTest, RefusesADatabaseMigratedByANewerBinary) {
  Migrate(conn_);
  const int future = NewestMigrationVersion() + 1;
  ASSERT_TRUE(conn_
                  .Exec("INSERT INTO pulse.schema_version (version, name) "
                        "VALUES ($1, 'from_the_future')",
                        {std::to_string(future)})
                  .ok());

  auto migrated = sink::MigrateSchema(conn_, {});
  ASSERT_FALSE(migrated.ok());
  EXPECT_EQ(migrated.status().code(), Status::Code::kFailedPrecondition);
  const std::string& m = migrated.status().message();
  EXPECT_NE(m.find("at version " + std::to_string(future)), std::string::npos)
      << m;
  EXPECT_NE(m.find("up to " + std::to_string(NewestMigrationVersion())),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("Run that newer pulse"), std::string::npos) << m;

  auto checked = sink::CheckSchema(conn_);
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.status().code(), Status::Code::kFailedPrecondition);
}

TEST_F(SinkSchemaTest, RollupTablesLeaveRoomOnEachPageForUpdates) {
  // Updates that stay on their page (HOT) add no index entries: every
  // rollup table keeps a fifth of each page free for them.
  Migrate(conn_);
  EXPECT_EQ(Text("SELECT count(*) FROM pg_class WHERE relnamespace = "
                 "'pulse'::regnamespace AND relkind = 'r' AND relname ~ "
                 "'^(activity|collection|user|ip)_(minute|hour|day)$'"),
            "12");
  EXPECT_EQ(Text("SELECT coalesce(string_agg(relname, ','), 'none') FROM "
                 "pg_class WHERE relnamespace = 'pulse'::regnamespace AND "
                 "relkind = 'r' AND relname ~ "
                 "'^(activity|collection|user|ip)_(minute|hour|day)$' AND "
                 "NOT coalesce('fillfactor=80' = ANY(reloptions), false)"),
            "none");
}

TEST_F(SinkSchemaTest, CheckSchemaExplainsAMissingSchemaWithoutWriting) {
  auto checked = sink::CheckSchema(conn_);
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(checked.status().message().find("pulse sink"), std::string::npos)
      << checked.status().message();
  EXPECT_EQ(Text("SELECT to_regnamespace('pulse') IS NULL"), "t");
}

TEST_F(SinkSchemaTest, CheckSchemaRefusesAnOlderSchemaUntilMigrated) {
  Migrate(conn_);
  ASSERT_TRUE(conn_
                  .Exec("DELETE FROM pulse.schema_version WHERE version = $1",
                        {std::to_string(NewestMigrationVersion())})
                  .ok());
  auto checked = sink::CheckSchema(conn_);
  ASSERT_FALSE(checked.ok());
  EXPECT_NE(checked.status().message().find("older"), std::string::npos)
      << checked.status().message();

  // The newest migration re-applies cleanly (functions are replaced).
  Migrate(conn_);
  EXPECT_TRUE(sink::CheckSchema(conn_).ok());
}

TEST_F(SinkSchemaTest, WritesRetentionAndSketchTypeAtEveryStart) {
  auto settings = [&] {
    return Text(
        "SELECT string_agg(key || '=' || value, ',' ORDER BY key) "
        "FROM pulse.settings");
  };
  Migrate(conn_, {hours(7 * 24), hours(90 * 24), milliseconds(0)});
  EXPECT_EQ(settings(),
            "retention.day=0,retention.hour=90 days,retention.minute=7 "
            "days,sketch_type=hll");

  Migrate(conn_, {minutes(90), hours(36), hours(400 * 24)});
  EXPECT_EQ(settings(),
            "retention.day=400 days,retention.hour=36 hours,"
            "retention.minute=90 minutes,sketch_type=hll");
}

TEST_F(SinkSchemaTest, ConcurrentStartsApplyEachMigrationOnce) {
  constexpr int kStarts = 4;
  std::vector<Status> results(kStarts);
  std::vector<std::thread> threads;
  for (int i = 0; i < kStarts; ++i) {
    threads.emplace_back([&, i] {
      auto c = PgConn::Connect(url_, "pulse-test");
      if (!c.ok()) {
        results[i] = c.status();
        return;
      }
      results[i] = sink::MigrateSchema(*c, {}).status();
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  for (const Status& st : results) {
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
  EXPECT_EQ(Text("SELECT count(*) FROM pulse.schema_version"),
            std::to_string(sink::EmbeddedMigrations().size()));
}

TEST_F(SinkSchemaTest, SchemaSqlBuildsTheSchemaMigrateWouldBuild) {
  ASSERT_TRUE(conn_.Run("CREATE EXTENSION hll").ok());
  auto sql = sink::SchemaSql(true, "\"public\"");
  ASSERT_TRUE(sql.ok()) << sql.status().ToString();
  Status st = conn_.Run(*sql);
  ASSERT_TRUE(st.ok()) << st.ToString();
  auto checked = sink::CheckSchema(conn_);
  ASSERT_TRUE(checked.ok()) << checked.status().ToString();
  EXPECT_EQ(checked->version, NewestMigrationVersion());
  EXPECT_TRUE(checked->hll);
}

// The extension installed after the schema was created without it: the
// next start turns the sketch columns into hll, keeps every sketch, and
// the functions answer unique counts from then on.
TEST_F(SinkSchemaTest, ByteaSketchesBecomeHllOnceTheExtensionIsInstalled) {
  PgConn owner = SharedPgServer().Connect(OwnerWithoutSuperuser("latehll"));
  auto info = sink::MigrateSchema(owner, kKeepAll);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  ASSERT_FALSE(info->hll);

  // An hour row whose sketch holds three users, stored as bytea.
  Hll sketch;
  for (const char* user : {"u1", "u2", "u3"}) {
    sketch.Add(HllHashBytes(user));
  }
  std::string hex;
  for (unsigned char c : sketch.Serialize()) {
    hex += fmt::format("{:02x}", c);
  }
  ASSERT_TRUE(owner
                  .Exec("INSERT INTO pulse.collection_hour (bucket, "
                        "collection, activity_count, unique_users, users) "
                        "VALUES ('2026-02-28T10:00:00Z', 'articles', 5, 3, "
                        "decode($1, 'hex'))",
                        {hex})
                  .ok());

  // Installed later by a superuser; the sink's next start converts.
  ASSERT_TRUE(conn_.Run("CREATE EXTENSION hll").ok());
  const std::string answer =
      "SELECT activity_count || ':' || unique_users FROM "
      "pulse.collection_activity('2026-02-28T10:00:00Z', "
      "'2026-02-28T11:00:00Z')";
  for (int start = 0; start < 2; ++start) {  // the second changes nothing
    SCOPED_TRACE(::testing::Message() << "start " << start);
    info = sink::MigrateSchema(owner, kKeepAll);
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_TRUE(info->hll);
    EXPECT_EQ(Text("SELECT string_agg(DISTINCT format_type(a.atttypid, "
                   "a.atttypmod), ',') FROM pg_attribute a JOIN pg_class c "
                   "ON c.oid = a.attrelid WHERE c.relnamespace = "
                   "'pulse'::regnamespace AND a.attname IN ('users', "
                   "'collections')"),
              "hll");
    EXPECT_EQ(Text("SELECT value FROM pulse.settings WHERE key = "
                   "'sketch_type'"),
              "hll");
    EXPECT_EQ(Text("SELECT hll_cardinality(users)::int::text || ':' || "
                   "(users::text = '\\x" +
                   hex + "')::text FROM pulse.collection_hour"),
              "3:true");
    EXPECT_EQ(Text(answer), "5:3");
  }
}

// Without the extension: a role that owns its database but may not create
// untrusted extensions (hll is one) is what an ordinary managed database
// gives. Sketches are bytea; SQL still counts; `pulse query` merges.
TEST_F(SinkSchemaTest, WithoutHllSketchesAreByteaAndQueryStillCountsUniques) {
  const std::string role_url = OwnerWithoutSuperuser("nohll");
  PgConn owner = SharedPgServer().Connect(role_url);

  // The migration warns and goes on with bytea.
  auto info = sink::MigrateSchema(owner, kKeepAll);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_FALSE(info->hll);
  EXPECT_EQ(Text("SELECT count(*) FROM pg_extension WHERE extname = 'hll'"),
            "0");
  EXPECT_EQ(Text("SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                 "WHERE attrelid = 'pulse.collection_hour'::regclass AND "
                 "attname = 'users'"),
            "bytea");
  EXPECT_EQ(Text("SELECT value FROM pulse.settings WHERE key = "
                 "'sketch_type'"),
            "bytea");

  // Data written by the owner; sketches built with the extension installed
  // only for the build, in a scratch schema, then removed again.
  generate::HistoryOptions h;
  h.target.url = role_url;
  h.target.generator.seed = 7;
  h.rows = 20'000;
  h.span = hours(48);
  h.end = kEnd;
  SCOPED_TRACE("generator seed 7");
  ASSERT_TRUE(generate::WriteHistory(h).ok());
  ASSERT_TRUE(conn_
                  .Run("CREATE SCHEMA scratch; "
                       "CREATE EXTENSION hll SCHEMA scratch")
                  .ok());
  Status built =
      BuildRollupsFromRaw(conn_, {.hll_schema = "scratch", .bytea = true});
  ASSERT_TRUE(built.ok()) << built.ToString();
  ASSERT_TRUE(conn_.Run("DROP EXTENSION hll; DROP SCHEMA scratch").ok());

  // SQL: exact counts, NULL unique counts, and a notice saying why.
  const std::string since = "2026-02-27T05:17:00Z";
  const std::string until = "2026-02-28T19:43:00Z";
  const std::string raw =
      "SELECT collection::text, count(*)::text, count(DISTINCT \"user\") "
      "FROM directus_activity WHERE timestamp >= $1 AND timestamp < $2 "
      "GROUP BY 1 ORDER BY 1";
  auto expected = owner.Exec(raw, {since, until});
  ASSERT_TRUE(expected.ok()) << expected.status().ToString();
  {
    sink::NoticeCollector notices(owner);
    auto got = owner.Exec(
        "SELECT collection, activity_count::text, unique_users FROM "
        "pulse.collection_activity($1, $2) ORDER BY 1",
        {since, until});
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(got->rows(), expected->rows());
    for (int i = 0; i < got->rows(); ++i) {
      EXPECT_EQ(got->Get(i, 0), expected->Get(i, 0));
      EXPECT_EQ(got->Get(i, 1), expected->Get(i, 1));
      EXPECT_TRUE(got->IsNull(i, 2));
    }
    std::vector<std::string> said = notices.Take();
    ASSERT_EQ(said.size(), 1u);
    EXPECT_NE(said[0].find("need the hll extension"), std::string::npos)
        << said[0];
  }

  // `pulse query` merges the bytea sketches itself: exact unique counts.
  auto schema = sink::CheckSchema(owner);
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  sink::QueryOptions q;
  q.since = *ParseTimestamp(since);
  q.until = *ParseTimestamp(until);
  auto answer = sink::RunQuery(owner, *schema, q);
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  ASSERT_EQ(static_cast<int>(answer->rows.size()), expected->rows());
  std::map<std::string, std::string> uniques;
  for (const auto& row : answer->rows) {
    uniques[*row[0]] = row[2].value_or("NULL");
  }
  for (int i = 0; i < expected->rows(); ++i) {
    EXPECT_EQ(uniques[expected->GetString(i, 0)], expected->GetString(i, 2))
        << expected->GetString(i, 0);
  }
  EXPECT_TRUE(answer->notices.empty());

  // Collections per user: SQL answers them from the bitmaps; keys with a
  // NULL bitmap (rows from before migration 004) are NULL there, and
  // `pulse query` fills those from the sketches.
  // The first column of each row -> the second.
  auto pairs = [&](const char* sql) {
    std::map<std::string, std::string> out;
    auto r = owner.Exec(sql, {since, until});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    for (int i = 0; r.ok() && i < r->rows(); ++i) {
      out[r->GetString(i, 0)] = r->GetString(i, 1);
    }
    return out;
  };
  std::map<std::string, std::string> want = pairs(
      "SELECT \"user\"::text, count(*)::text || ' ' || count(DISTINCT "
      "collection) FROM directus_activity WHERE timestamp >= $1 AND "
      "timestamp < $2 AND \"user\" IS NOT NULL GROUP BY 1");
  auto users_sql = [&] {
    return pairs(
        "SELECT \"user\", activity_count || ' ' || coalesce("
        "collections_accessed::text, 'NULL') FROM "
        "pulse.user_engagement($1, $2)");
  };
  ASSERT_FALSE(want.empty());
  EXPECT_EQ(users_sql(), want);
  ASSERT_TRUE(owner
                  .Run("UPDATE pulse.user_hour SET collections_bits = NULL "
                       "WHERE hashtext(user_id) % 2 = 0")
                  .ok());
  std::map<std::string, std::string> partial = users_sql();
  int unknown = 0;
  for (const auto& [user, value] : partial) {
    unknown += value.find("NULL") != std::string::npos;
  }
  EXPECT_GT(unknown, 0);
  EXPECT_LT(unknown, static_cast<int>(partial.size()));
  sink::QueryOptions uq = q;
  uq.question = sink::Question::kUsers;
  auto filled = sink::RunQuery(owner, *schema, uq);
  ASSERT_TRUE(filled.ok()) << filled.status().ToString();
  std::map<std::string, std::string> got;
  for (const auto& row : filled->rows) {
    got[*row[0]] = *row[1] + " " + row[2].value_or("NULL");
  }
  EXPECT_EQ(got, want);

  // The command line gives the same all-collections count.
  auto all_users = owner.Exec(
      "SELECT count(DISTINCT \"user\") FROM directus_activity WHERE "
      "timestamp >= $1 AND timestamp < $2",
      {since, until});
  ASSERT_TRUE(all_users.ok()) << all_users.status().ToString();
  Subprocess cli({.argv = {PulseBinary(), "query", "unique-users", "--since",
                           since, "--until", until, "--json"},
                  .env = {{"PULSE_TARGET_URL", role_url}}});
  ASSERT_EQ(cli.Wait(std::chrono::seconds(60)), 0) << cli.Stderr();
  EXPECT_EQ(cli.Stdout(),
            "[{\"unique_users\":" + all_users->GetString(0, 0) + "}]\n")
      << cli.Stderr();
}

TEST(SinkSchemaTemplateTest, SketchPlaceholderNamesTheColumnType) {
  Migration m{1, "t", "users {{sketch}} NOT NULL,\n"};
  auto hll = sink::RenderMigration(m, {.hll = true, .hll_schema = "\"ext\""});
  ASSERT_TRUE(hll.ok()) << hll.status().ToString();
  EXPECT_EQ(*hll, "users \"ext\".hll NOT NULL,\n");
  auto bytea = sink::RenderMigration(m, {.hll = false});
  ASSERT_TRUE(bytea.ok());
  EXPECT_EQ(*bytea, "users bytea NOT NULL,\n");
}

TEST(SinkSchemaTemplateTest, ConditionalBlocksKeepOneBranchAndLineNumbers) {
  Migration m{1, "t",
              "a\n  -- pulse:if hll\nH {{hll_schema}}\n  -- pulse:else\n"
              "B\n  -- pulse:end\nz\n"};
  auto hll = sink::RenderMigration(m, {.hll = true, .hll_schema = "s"});
  ASSERT_TRUE(hll.ok());
  EXPECT_EQ(*hll, "a\n\nH s\n\n\n\nz\n");
  auto bytea = sink::RenderMigration(m, {.hll = false});
  ASSERT_TRUE(bytea.ok());
  EXPECT_EQ(*bytea, "a\n\n\n\nB\n\nz\n");
}

TEST(SinkSchemaTemplateTest, MistakesAreRefusedWithTheLine) {
  struct Case {
    std::string_view text;
    std::string_view error;
  };
  const Case kCases[] = {
      {"x {{sketchh}}\n", "line 1: unknown placeholder {{sketchh}}"},
      {"x {{sketch\n", "line 1: '{{' without '}}'"},
      {"a\n-- pulse:if hll\nb\n", "not closed"},
      {"-- pulse:else\n", "line 1: '-- pulse:else' outside an if block"},
      {"-- pulse:end\n", "line 1: '-- pulse:end' without an if"},
      {"-- pulse:if hll\n-- pulse:if hll\n", "line 2: nested"},
      {"-- pulse:unless hll\n", "unknown marker"},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(std::string(c.text));
    auto r = sink::RenderMigration({3, "bad", c.text}, {.hll = true});
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("003_bad"), std::string::npos);
    EXPECT_NE(r.status().message().find(c.error), std::string::npos)
        << r.status().message();
  }
}

TEST(SinkSchemaTemplateTest, EmbeddedMigrationsAreOrderedAndRender) {
  EXPECT_TRUE(sink::ValidateMigrations(sink::EmbeddedMigrations()).ok());
  EXPECT_FALSE(sink::ValidateMigrations({{2, "b", ""}, {1, "a", ""}}).ok());
  EXPECT_FALSE(sink::ValidateMigrations({{1, "a", ""}, {1, "b", ""}}).ok());
  for (const Migration& m : sink::EmbeddedMigrations()) {
    EXPECT_TRUE(sink::RenderMigration(m, {.hll = true}).ok()) << m.name;
    EXPECT_TRUE(sink::RenderMigration(m, {.hll = false}).ok()) << m.name;
  }
}

TEST(SinkSchemaTemplateTest, RetentionIsWrittenAsAnInterval) {
  EXPECT_EQ(sink::RetentionText(milliseconds(0)), "0");
  EXPECT_EQ(sink::RetentionText(hours(24 * 7)), "7 days");
  EXPECT_EQ(sink::RetentionText(hours(36)), "36 hours");
  EXPECT_EQ(sink::RetentionText(minutes(90)), "90 minutes");
  EXPECT_EQ(sink::RetentionText(milliseconds(1500)), "1500 milliseconds");
}

}  // namespace
}  // namespace pulse::testing
