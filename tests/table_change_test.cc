// The activity table changing under a running pipeline: columns added and
// dropped, the legacy `comment` column, TRUNCATE, the publication dropped,
// the table dropped and recreated with ids starting again at 1. Rows that
// existed are counted once; rows that come after are counted too.

#include <gtest/gtest.h>

#include "generate/generate.h"
#include "tests/harness/pipeline_fixture.h"
#include "tests/harness/wait.h"

namespace pulse::testing {
namespace {

using std::chrono::seconds;

class TableChangeTest : public PipelineFixture {
 protected:
  void SetUp() override {
    PipelineFixture::SetUp();
    ASSERT_TRUE(conn_
                    .Run("CREATE TABLE expected_activity AS SELECT id, "
                         "action, \"user\", timestamp, ip, collection FROM "
                         "directus_activity WITH NO DATA")
                    .ok());
  }

  // `n` rows naming only the columns every shape of the table keeps.
  void InsertRows(int n, const std::string& extra_column = "",
                  const std::string& extra_value = "") {
    std::string cols = extra_column.empty() ? "" : ", " + extra_column;
    std::string vals = extra_value.empty() ? "" : ", " + extra_value;
    auto r = conn_.Exec(
        "INSERT INTO directus_activity (action, \"user\", timestamp, ip, "
        "collection, item" +
            cols +
            ") SELECT (ARRAY['create','update','login'])[1 + g % 3], "
            "CASE WHEN g % 7 = 0 THEN NULL ELSE md5((g % 30)::text)::uuid "
            "END, now() - (g % 600) * interval '1 second', '10.1.' || (g % "
            "25) || '.1', 'col_' || (g % 6), g::text" +
            vals + " FROM generate_series(1, $1::int) g",
        {std::to_string(n)});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  // Remembers the rows the table holds now as ones the rollups must count.
  void RecordExpected() {
    ASSERT_TRUE(conn_
                    .Run("INSERT INTO expected_activity SELECT id, action, "
                         "\"user\", timestamp, ip, collection FROM "
                         "directus_activity")
                    .ok());
  }

  int64_t ExpectedCount() {
    auto r = conn_.Exec("SELECT count(*) FROM expected_activity");
    return r.ok() ? r->GetInt(0, 0) : -1;
  }

  // Returns once rows written from now on are streamed, not copied.
  void StartPipeline() {
    sink_ = StartPulse("sink");
    aggregator_ = StartPulse("aggregate");
    ingest_ = StartPulse("ingest");
    ASSERT_TRUE(ingest_->WaitForStderr("streaming_started", seconds(60)))
        << ingest_->Stderr();
  }

  // The sink applied exactly `events`, and nothing more arrives.
  void ExpectAppliedExactly(int64_t events) {
    ASSERT_TRUE(WaitForApplied(events, seconds(120)))
        << "applied " << EventsApplied(conn_) << " of " << events << "\n"
        << ingest_->Stderr().substr(0, 6000);
    ASSERT_TRUE(WaitForCatchUp(seconds(60)));
    std::this_thread::sleep_for(seconds(2));
    EXPECT_EQ(EventsApplied(conn_), events);
  }

  void StopPipeline() {
    for (auto* p : {&ingest_, &aggregator_, &sink_}) {
      EXPECT_EQ((*p)->Stop(), 0) << (*p)->Stderr().substr(0, 4000);
    }
  }

  std::unique_ptr<Subprocess> sink_, aggregator_, ingest_;
};

TEST_F(TableChangeTest, ColumnAddedMidStreamChangesNothing) {
  StartPipeline();
  InsertRows(3000);
  ASSERT_TRUE(WaitForApplied(3000, seconds(60)));

  ASSERT_TRUE(conn_
                  .Run("ALTER TABLE directus_activity ADD COLUMN "
                       "revision_note text DEFAULT 'x'")
                  .ok());
  InsertRows(2000, "revision_note", "repeat('n', 300)");
  ExpectAppliedExactly(5000);
  ExpectExact();
  EXPECT_TRUE(ingest_->WaitForStderr("relation_changed", seconds(5)))
      << ingest_->Stderr();
  StopPipeline();
}

TEST_F(TableChangeTest, ColumnsDroppedMidStreamChangeNothing) {
  StartPipeline();
  InsertRows(3000);
  ASSERT_TRUE(WaitForApplied(3000, seconds(60)));

  ASSERT_TRUE(conn_
                  .Run("ALTER TABLE directus_activity DROP COLUMN origin, "
                       "DROP COLUMN user_agent")
                  .ok());
  InsertRows(2000);
  ExpectAppliedExactly(5000);
  ExpectExact();
  StopPipeline();
}

TEST_F(TableChangeTest, LegacyCommentColumnIsCarriedAndIgnored) {
  // The pre-v11 shape, comments (hostile ones too) in snapshot and stream.
  ASSERT_TRUE(conn_.Run("DROP TABLE directus_activity").ok());
  ASSERT_TRUE(generate::CreateActivityTable(conn_, "public.directus_activity",
                                            /*legacy_comment=*/true)
                  .ok());
  InsertRows(2000, "comment", "'it''s; DROP TABLE x; --' || repeat('c', g)");
  StartPipeline();
  InsertRows(2000, "comment", "CASE WHEN g % 2 = 0 THEN NULL ELSE 'c' END");
  ExpectAppliedExactly(4000);
  ExpectExact();
  StopPipeline();
}

TEST_F(TableChangeTest, TruncateKeepsWhatWasCountedAndCountsNewRows) {
  StartPipeline();
  InsertRows(3000);
  ASSERT_TRUE(WaitForApplied(3000, seconds(60)));
  RecordExpected();

  // RESTART IDENTITY: the new rows reuse ids 1..2000.
  ASSERT_TRUE(conn_.Run("TRUNCATE directus_activity RESTART IDENTITY").ok());
  InsertRows(2000);
  RecordExpected();
  ExpectAppliedExactly(5000);
  auto mismatches = CompareRollups(conn_, "expected_activity");
  EXPECT_TRUE(mismatches.empty()) << Describe(mismatches);
  EXPECT_TRUE(ingest_->WaitForStderr("truncate_seen", seconds(5)));
  StopPipeline();
}

TEST_F(TableChangeTest, DroppedPublicationStopsTheIngestNamingIt) {
  auto ingest = StartIngest();
  ASSERT_TRUE(ingest->WaitForStderr("streaming_started", seconds(30)));
  ASSERT_TRUE(conn_.Run("DROP PUBLICATION pulse").ok());
  InsertRows(10);  // decoding it needs the publication

  auto code = ingest->Wait(seconds(60));
  ASSERT_TRUE(code.has_value()) << "still running:\n" << ingest->Stderr();
  EXPECT_NE(*code, 0);
  std::string err = ingest->Stderr();
  EXPECT_NE(err.find("was dropped while replication slot " + slot_),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("--recreate-slot --snapshot never"), std::string::npos)
      << err;
}

// Ids restart at 1 in the new table: its rows must be counted, not taken
// for replays of the old rows with the same ids, and the old rows must
// not be counted again.
TEST_F(TableChangeTest, TableDroppedAndRecreatedCountsNewRowsOnce) {
  StartPipeline();
  InsertRows(3000);
  ASSERT_TRUE(WaitForApplied(3000, seconds(60)));
  RecordExpected();

  ASSERT_TRUE(conn_.Run("DROP TABLE directus_activity").ok());
  ASSERT_TRUE(generate::CreateActivityTable(conn_, "public.directus_activity",
                                            /*legacy_comment=*/false)
                  .ok());
  InsertRows(1500);  // before the ingest notices
  ASSERT_EQ(TableIds().count(1), 1u) << "ids restart at 1";
  ASSERT_TRUE(ingest_->WaitForStderr("table_recreated", seconds(30)))
      << ingest_->Stderr();
  InsertRows(1500);  // while it starts over

  ASSERT_TRUE(ingest_->WaitForStderr("snapshot_done", seconds(60)))
      << ingest_->Stderr();
  InsertRows(1000);  // streamed from the new slot
  RecordExpected();
  ASSERT_EQ(ExpectedCount(), 7000);
  ExpectAppliedExactly(7000);
  auto mismatches = CompareRollups(conn_, "expected_activity");
  EXPECT_TRUE(mismatches.empty()) << Describe(mismatches);
  StopPipeline();
}

}  // namespace
}  // namespace pulse::testing
