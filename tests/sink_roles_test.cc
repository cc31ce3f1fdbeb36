// schemas/roles.sql run with psql against a real PostgreSQL: the sink role
// migrates the schema it owns, the reader role calls every function and
// reads every table but cannot write, the source role reads the activity
// table and nothing of pulse, and running the script twice is harmless.

#include <gtest/gtest.h>

#include "generate/activity_table.h"
#include "sink/query.h"
#include "sink/schema.h"
#include "tests/harness/pg_server.h"
#include "tests/harness/subprocess.h"

namespace pulse::testing {
namespace {

constexpr char kPsql[] = "/usr/bin/psql";

class SinkSchemaRolesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = SharedPgServer().CreateDatabase("roles");
    db_ = url_.substr(url_.rfind('/') + 1);
    admin_ = SharedPgServer().Connect(url_);
    ASSERT_TRUE(
        generate::CreateActivityTable(admin_, "public.directus_activity", false)
            .ok());

    // Roles are cluster-wide: names unique to this test's database.
    source_ = "src_" + db_;
    sink_ = "snk_" + db_;
    reader_ = "rdr_" + db_;
    ASSERT_EQ(RunScript(), 0);

    // The sink creates the schema's content as its owner, then writes.
    sink_conn_ =
        SharedPgServer().Connect(SharedPgServer().UrlAs(sink_, "sink_pw", db_));
    auto info = sink::MigrateSchema(sink_conn_, {});
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_TRUE(info->hll);
    Status st = sink_conn_.Run(
        "INSERT INTO pulse.collection_day (bucket, collection, "
        "activity_count, unique_users, users) VALUES ('2026-02-27Z', "
        "'articles', 3, 0, hll_empty(15, 5, -1, 1))");
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  // Runs roles.sql with psql; returns its exit code.
  int RunScript() {
    Subprocess psql(
        {.argv = {kPsql, url_, "-X", "-q", "-v", "source_role=" + source_, "-v",
                  "sink_role=" + sink_, "-v", "reader_role=" + reader_, "-v",
                  "source_password=source_pw", "-v", "sink_password=sink_pw",
                  "-v", "reader_password=reader_pw", "-f", PULSE_ROLES_SQL}});
    int code = psql.Wait(std::chrono::seconds(60)).value_or(-1);
    EXPECT_EQ(code, 0) << psql.Stdout() << psql.Stderr();
    return code;
  }

  PgConn As(const std::string& role, const std::string& password) {
    return SharedPgServer().Connect(
        SharedPgServer().UrlAs(role, password, db_));
  }

  // Expects `sql` to be refused for lack of privilege.
  static void ExpectDenied(PgConn& c, const std::string& sql) {
    Status st = c.Run(sql);
    EXPECT_FALSE(st.ok()) << sql;
    bool denied = st.message().find("permission denied") != std::string::npos ||
                  st.message().find("must be owner") != std::string::npos;
    EXPECT_TRUE(denied) << sql << ": " << st.ToString();
  }

  std::string url_, db_, source_, sink_, reader_;
  PgConn admin_, sink_conn_;
};

TEST_F(SinkSchemaRolesTest, ReaderCallsEveryFunctionAndCannotWrite) {
  PgConn reader = As(reader_, "reader_pw");

  // Every function, as SQL.
  const char* kCalls[] = {
      "SELECT * FROM pulse.collection_activity('2026-02-27Z', '2026-02-28Z')",
      "SELECT * FROM pulse.action_timeseries('2026-02-27Z', '2026-02-28Z')",
      "SELECT * FROM pulse.action_timeseries('2026-02-27Z', '2026-02-28Z', "
      "'minute')",
      "SELECT * FROM pulse.suspicious_ips('2026-02-27Z', '2026-02-28Z', 1)",
      "SELECT * FROM pulse.user_engagement('2026-02-27Z', '2026-02-28Z')",
      "SELECT pulse.unique_users('2026-02-27Z', '2026-02-28Z')",
      "SELECT pulse.unique_users('2026-02-27Z', '2026-02-28Z', 'articles')",
      "SELECT * FROM pulse.freshness()",
      "SELECT * FROM pulse.range_segments('2026-02-27Z', '2026-02-28Z')",
  };
  for (const char* sql : kCalls) {
    auto r = reader.Exec(sql);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
  }
  auto counted = reader.Exec(
      "SELECT activity_count FROM pulse.collection_activity('2026-02-27Z', "
      "'2026-02-28Z') WHERE collection = 'articles'");
  ASSERT_TRUE(counted.ok() && counted->rows() == 1);
  EXPECT_EQ(counted->Get(0, 0), "3");

  // And through `pulse query`'s code, schema check included.
  ASSERT_TRUE(sink::PrepareReadSession(reader, std::chrono::seconds(30)).ok());
  auto schema = sink::CheckSchema(reader);
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  for (const std::string& name : sink::QuestionNames()) {
    sink::QueryOptions q;
    q.question = *sink::ParseQuestion(name);
    q.since = *ParseTimestamp("2026-02-27T00:00:00Z");
    q.until = *ParseTimestamp("2026-02-28T00:00:00Z");
    EXPECT_TRUE(sink::RunQuery(reader, *schema, q).ok()) << name;
  }

  // Reading every table is allowed; changing anything is not.
  EXPECT_TRUE(reader.Exec("SELECT count(*) FROM pulse.partition_state").ok());
  ASSERT_TRUE(reader.Run("SET default_transaction_read_only = off").ok());
  ExpectDenied(reader,
               "INSERT INTO pulse.activity_day (bucket, collection, action, "
               "activity_count) VALUES (now(), 'x', 'create', 1)");
  ExpectDenied(reader, "UPDATE pulse.collection_day SET activity_count = 0");
  ExpectDenied(reader, "DELETE FROM pulse.settings");
  ExpectDenied(reader, "TRUNCATE pulse.activity_minute");
  ExpectDenied(reader, "CREATE TABLE pulse.scratch (x int)");
  ExpectDenied(reader, "DROP FUNCTION pulse.freshness()");
  ExpectDenied(reader, "SELECT count(*) FROM public.directus_activity");
}

TEST_F(SinkSchemaRolesTest, SourceReadsTheActivityTableAndNothingOfPulse) {
  PgConn source = As(source_, "source_pw");
  EXPECT_TRUE(source.Exec("SELECT count(*) FROM directus_activity").ok());
  ExpectDenied(source,
               "INSERT INTO directus_activity (action, collection, item) "
               "VALUES ('create', 'x', '1')");
  ExpectDenied(source, "SELECT * FROM pulse.settings");
  ExpectDenied(source, "SELECT * FROM pulse.freshness()");

  auto role = admin_.Exec(
      "SELECT rolreplication, rolsuper, rolcreatedb FROM pg_roles WHERE "
      "rolname = $1",
      {source_});
  ASSERT_TRUE(role.ok() && role->rows() == 1);
  EXPECT_EQ(
      role->GetString(0, 0) + role->GetString(0, 1) + role->GetString(0, 2),
      "tff");

  // The publication the ingest expects, made by the table's owner.
  auto pub = admin_.Exec(
      "SELECT p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, "
      "count(t.*) FROM pg_publication p LEFT JOIN pg_publication_tables t "
      "ON t.pubname = p.pubname AND t.tablename = 'directus_activity' "
      "WHERE p.pubname = 'pulse' GROUP BY 1, 2, 3, 4");
  ASSERT_TRUE(pub.ok() && pub->rows() == 1) << pub.status().ToString();
  EXPECT_EQ(pub->GetString(0, 0) + pub->GetString(0, 1) + pub->GetString(0, 2) +
                pub->GetString(0, 3) + pub->GetString(0, 4),
            "tfft1");
}

TEST_F(SinkSchemaRolesTest, RunningTheScriptAgainChangesNothingThatWorks) {
  ASSERT_EQ(RunScript(), 0);
  PgConn reader = As(reader_, "reader_pw");
  auto r = reader.Exec(
      "SELECT count(*) FROM pulse.collection_activity('2026-02-27Z', "
      "'2026-02-28Z')");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->Get(0, 0), "1");
  auto again = sink::MigrateSchema(sink_conn_, {});
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

}  // namespace
}  // namespace pulse::testing
