// IngestFixture: a database with a directus_activity table, an embedded
// broker, and helpers to run `pulse ingest` against them.

#ifndef PULSE_TESTS_HARNESS_INGEST_FIXTURE_H_
#define PULSE_TESTS_HARNESS_INGEST_FIXTURE_H_

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <string>

#include "common/kafka.h"
#include "common/lsn.h"
#include "common/pg.h"
#include "tests/harness/activity_topic.h"
#include "tests/harness/pg_server.h"
#include "tests/harness/subprocess.h"

namespace pulse::testing {

class IngestFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Environment for `pulse` processes: source, broker, state, a fast
  // status interval, a slot unique to this test.
  std::map<std::string, std::string> PulseEnv() const;
  std::unique_ptr<Subprocess> StartIngest(
      const std::map<std::string, std::string>& extra = {});

  // Inserts `n` rows in transactions of `per_txn` rows.
  void InsertRows(int64_t n, int64_t per_txn = 1000);
  std::set<int64_t> TableIds();
  Lsn CurrentWal();
  Lsn SlotConfirmed();
  // Waits until the slot has confirmed everything written so far.
  bool WaitForCatchUp(std::chrono::milliseconds timeout);

  std::vector<ActivityMessage> ReadAll() {
    return ReadActivityTopic(broker_->bootstrap(), "directus.activity");
  }

  std::string url_;
  std::string slot_;
  PgConn conn_;
  std::unique_ptr<EmbeddedBroker> broker_;
  std::string state_dir_;
};

}  // namespace pulse::testing

#endif  // PULSE_TESTS_HARNESS_INGEST_FIXTURE_H_
