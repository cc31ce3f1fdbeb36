// `pulse ingest` setup: each refused prerequisite names its fix; hostile
// values arrive intact; a vanished slot stops the ingest with advice.

#include <gtest/gtest.h>
#include <simdjson.h>

#include "generate/generate.h"
#include "tests/harness/ingest_fixture.h"
#include "tests/harness/wait.h"

namespace pulse::testing {
namespace {

using std::chrono::seconds;

class IngestSetupTest : public IngestFixture {
 protected:
  // Runs `pulse ingest` to its exit; returns the exit code.
  int RunToExit(const std::map<std::string, std::string>& extra,
                std::string& stderr_text) {
    auto ingest = StartIngest(extra);
    auto code = ingest->Wait(seconds(60));
    stderr_text = ingest->Stderr();
    return code.value_or(-1);
  }
};

TEST_F(IngestSetupTest, RefusesWithoutLogicalWalLevel) {
  std::string error;
  auto server = PgServer::Start({.wal_level = "replica"}, error);
  ASSERT_TRUE(server) << error;
  std::string url = server->CreateDatabase("replica");
  std::string err;
  int code = RunToExit({{"PULSE_SOURCE_URL", url}}, err);
  EXPECT_EQ(code, 3) << err;
  EXPECT_NE(err.find("wal_level is 'replica'"), std::string::npos) << err;
  EXPECT_NE(err.find("ALTER SYSTEM SET wal_level = logical"),
            std::string::npos);
}

TEST_F(IngestSetupTest, RefusesRoleWithoutReplication) {
  ASSERT_TRUE(conn_
                  .Run("CREATE ROLE reader_" + slot_ +
                       " LOGIN PASSWORD 'pw'; GRANT SELECT ON "
                       "directus_activity TO reader_" +
                       slot_)
                  .ok());
  std::string db = url_.substr(url_.rfind('/') + 1);
  std::string err;
  int code = RunToExit({{"PULSE_SOURCE_URL",
                         SharedPgServer().UrlAs("reader_" + slot_, "pw", db)}},
                       err);
  EXPECT_EQ(code, 3) << err;
  EXPECT_NE(err.find("lacks the REPLICATION attribute"), std::string::npos)
      << err;
}

TEST_F(IngestSetupTest, RefusesMissingTable) {
  std::string err;
  int code = RunToExit({{"PULSE_INGEST_TABLE", "public.no_such_table"}}, err);
  EXPECT_EQ(code, 3) << err;
  EXPECT_NE(err.find("table public.no_such_table not found"), std::string::npos)
      << err;
}

TEST_F(IngestSetupTest, RefusesWhenNoReplicationSlotIsFree) {
  std::string error;
  auto server =
      PgServer::Start({.settings = {"max_replication_slots = 1"}}, error);
  ASSERT_TRUE(server) << error;
  std::string url = server->CreateDatabase("slots");
  PgConn c = server->Connect(url);
  ASSERT_TRUE(c.Run("SELECT pg_create_logical_replication_slot('taken', "
                    "'pgoutput')")
                  .ok());
  ASSERT_TRUE(
      generate::CreateActivityTable(c, "directus_activity", false).ok());
  std::string err;
  int code = RunToExit({{"PULSE_SOURCE_URL", url}}, err);
  EXPECT_EQ(code, 3) << err;
  EXPECT_NE(err.find("replication slots are in use"), std::string::npos) << err;
}

TEST_F(IngestSetupTest, RefusesUnreachableBroker) {
  std::string err;
  int code = RunToExit({{"PULSE_KAFKA_BROKERS", "127.0.0.1:1"}}, err);
  EXPECT_NE(code, 0);
  EXPECT_NE(err.find("kafka.brokers=127.0.0.1:1"), std::string::npos) << err;
}

TEST_F(IngestSetupTest, HostileValuesArriveIntact) {
  // Values Directus stores unchecked, and every nullable column null.
  std::string long_agent(10 * 1024, 'A');
  long_agent += "\xE2\x9C\x93";  // a multi-byte character at the end
  const std::vector<std::vector<std::optional<std::string>>> rows = {
      {"create", "not-an-ip", long_agent, "articles", "1"},
      {"login", "1.2.3.4:5678", "ua", "directus_users", "2"},
      {"update", "2001:db8::ff00:42:8329", "ua", "x", "3"},
      {"delete", std::string(50, '9'), "ua", "y", "4"},
      {"run", std::nullopt, std::nullopt, "flows", "5"},
      {"comment", "10.0.0.1", "tab\there \"quote\" back\\slash\nnewline",
       "it's; DROP TABLE directus_activity; --", "6"},
      {"version_save", "::1", "\xF0\x9F\x98\x80 \xE6\x97\xA5\xE6\x9C\xAC",
       "\xC3\xA9t\xC3\xA9", ""},
  };
  for (const auto& r : rows) {
    auto st = conn_.Exec(
        "INSERT INTO directus_activity (action, ip, user_agent, collection, "
        "item) VALUES ($1, $2, $3, $4, $5)",
        r);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
  }

  auto ingest = StartIngest();
  ASSERT_TRUE(ingest->WaitForStderr("streaming_started", seconds(30)));
  ASSERT_TRUE(WaitForCatchUp(seconds(30)));
  EXPECT_EQ(ingest->Stop(), 0);

  // Compare each message's fields with the row as the database has it.
  auto db = conn_.Exec(
      "SELECT id, action, ip, user_agent, collection, item, \"user\"::text, "
      "origin FROM directus_activity ORDER BY id");
  ASSERT_TRUE(db.ok());
  std::map<int64_t, std::string> by_id;
  for (const auto& m : ReadAll()) {
    by_id[*m.id] = m.value;
  }
  ASSERT_EQ(by_id.size(), rows.size());
  simdjson::dom::parser parser;
  const char* names[] = {"id",         "action", "ip",   "user_agent",
                         "collection", "item",   "user", "origin"};
  for (int i = 0; i < db->rows(); ++i) {
    simdjson::dom::element doc = parser.parse(by_id[db->GetInt(i, 0)]);
    for (int c = 1; c < 8; ++c) {
      SCOPED_TRACE(std::string(names[c]) + " of row " + db->GetString(i, 0));
      simdjson::dom::element v = doc[names[c]];
      if (db->IsNull(i, c)) {
        EXPECT_TRUE(v.is_null());
      } else {
        EXPECT_EQ(std::string_view(v.get_string()), db->Get(i, c));
      }
    }
  }

  // The key is the ip when there is one, else the id.
  for (const auto& m : ReadAll()) {
    simdjson::dom::element doc = parser.parse(m.value);
    if (doc["ip"].is_null()) {
      EXPECT_EQ(m.key, std::to_string(*m.id));
    } else {
      EXPECT_EQ(m.key, std::string_view(doc["ip"].get_string()));
    }
  }
}

TEST_F(IngestSetupTest, DroppedSlotStopsWithRecoveryAdvice) {
  auto ingest = StartIngest();
  ASSERT_TRUE(ingest->WaitForStderr("streaming_started", seconds(30)));

  // Kill the walsender and drop the slot before the ingest reconnects.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = conn_.Exec(
            "SELECT pg_terminate_backend(active_pid) FROM "
            "pg_replication_slots WHERE slot_name = $1 AND active",
            {slot_});
        auto d = conn_.Exec(
            "SELECT pg_drop_replication_slot(slot_name) FROM "
            "pg_replication_slots WHERE slot_name = $1 AND NOT active",
            {slot_});
        return d.ok() && d->rows() == 1;
      },
      seconds(20), std::chrono::milliseconds(5)));

  auto code = ingest->Wait(seconds(60));
  ASSERT_TRUE(code.has_value()) << ingest->Stderr();
  EXPECT_EQ(*code, 1);
  EXPECT_NE(ingest->Stderr().find("--recreate-slot"), std::string::npos)
      << ingest->Stderr();
}

}  // namespace
}  // namespace pulse::testing
