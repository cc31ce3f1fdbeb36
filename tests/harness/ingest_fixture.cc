#include "tests/harness/ingest_fixture.h"

#include <fmt/format.h>

#include "generate/generate.h"
#include "tests/harness/wait.h"

namespace pulse::testing {

void IngestFixture::SetUp() {
  PgServer& pg = SharedPgServer();
  url_ = pg.CreateDatabase("ingest");
  slot_ = "pulse_" + url_.substr(url_.rfind('/') + 1);
  conn_ = pg.Connect(url_);
  Status st = generate::CreateActivityTable(conn_, "public.directus_activity",
                                            /*legacy_comment=*/false);
  ASSERT_TRUE(st.ok()) << st.ToString();

  auto broker =
      EmbeddedBroker::Start({.brokers = 1,
                             .partitions = 12,
                             .topics = Topics::FromPrefix("directus").All()});
  ASSERT_TRUE(broker.ok()) << broker.status().ToString();
  broker_ = std::move(broker).value();
  state_dir_ = MakeTempDir("pulse-state");
}

void IngestFixture::TearDown() {
  // Free the slot so the shared server does not keep WAL for it.
  if (conn_.connected()) {
    conn_
        .Exec(
            "SELECT pg_terminate_backend(active_pid) FROM "
            "pg_replication_slots WHERE slot_name = $1 AND active",
            {slot_})
        .status()
        .IgnoreError();
    WaitFor(
        [&] {
          auto r = conn_.Exec(
              "SELECT pg_drop_replication_slot(slot_name) FROM "
              "pg_replication_slots WHERE slot_name = $1 AND NOT active",
              {slot_});
          auto left = conn_.Exec(
              "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1",
              {slot_});
          return left.ok() && left->GetInt(0, 0) == 0;
        },
        std::chrono::seconds(10));
  }
  RemoveTree(state_dir_);
}

std::map<std::string, std::string> IngestFixture::PulseEnv() const {
  return {{"PULSE_SOURCE_URL", url_},
          {"PULSE_KAFKA_BROKERS", broker_->bootstrap()},
          {"PULSE_STATE_DIR", state_dir_},
          {"PULSE_HTTP_PORT", "0"},
          {"PULSE_HTTP_BIND", "127.0.0.1"},
          {"PULSE_INGEST_SLOT", slot_},
          {"PULSE_INGEST_STATUS_INTERVAL", "100ms"},
          {"PULSE_PROGRESS_INTERVAL", "1s"}};
}

std::unique_ptr<Subprocess> IngestFixture::StartIngest(
    const std::map<std::string, std::string>& extra) {
  auto env = PulseEnv();
  for (const auto& [k, v] : extra) {
    env[k] = v;
  }
  return std::make_unique<Subprocess>(
      Subprocess::Options{.argv = {PulseBinary(), "ingest"}, .env = env});
}

void IngestFixture::InsertRows(int64_t n, int64_t per_txn) {
  for (int64_t done = 0; done < n; done += per_txn) {
    int64_t k = std::min(per_txn, n - done);
    auto r = conn_.Exec(
        "INSERT INTO directus_activity (action, \"user\", timestamp, ip, "
        "user_agent, collection, item, origin) SELECT "
        "(ARRAY['create','update','delete','login'])[1 + g % 4], "
        "CASE WHEN g % 10 = 0 THEN NULL ELSE md5((g % 50)::text)::uuid END, "
        "now(), '10.0.' || (g % 40) || '.' || (g % 7), 'Mozilla/5.0', "
        "'col_' || (g % 9), g::text, 'https://cms.example.com' "
        "FROM generate_series(1, $1::int) g",
        {std::to_string(k)});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
}

std::set<int64_t> IngestFixture::TableIds() {
  auto r = conn_.Exec("SELECT id FROM directus_activity");
  EXPECT_TRUE(r.ok());
  std::set<int64_t> ids;
  for (int i = 0; i < r->rows(); ++i) {
    ids.insert(r->GetInt(i, 0));
  }
  return ids;
}

Lsn IngestFixture::CurrentWal() {
  auto r = conn_.Exec("SELECT pg_current_wal_lsn()::text");
  return r.ok() ? Lsn::Parse(r->Get(0, 0)).value_or(Lsn()) : Lsn();
}

Lsn IngestFixture::SlotConfirmed() {
  auto r = conn_.Exec(
      "SELECT coalesce(confirmed_flush_lsn::text, '0/0') FROM "
      "pg_replication_slots WHERE slot_name = $1",
      {slot_});
  if (!r.ok() || r->rows() == 0) {
    return Lsn();
  }
  return Lsn::Parse(r->Get(0, 0)).value_or(Lsn());
}

bool IngestFixture::WaitForCatchUp(std::chrono::milliseconds timeout) {
  Lsn target = CurrentWal();
  return WaitFor([&] { return SlotConfirmed() >= target; }, timeout,
                 std::chrono::milliseconds(100));
}

}  // namespace pulse::testing
