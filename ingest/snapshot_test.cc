#include "ingest/snapshot.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "ingest/snapshot_marker.h"

namespace pulse::ingest {
namespace {

TEST(SnapshotStateTest, RoundTripsThroughTheFile) {
  std::string path = ::testing::TempDir() + "/ingest-test.state";
  SnapshotState s{.slot = "pulse",
                  .slot_created = true,
                  .consistent_point = Lsn(0x1234),
                  .pg_snapshot = "730:735:731,733",
                  .done = false,
                  .last_id = 99,
                  .rows = 98};
  ASSERT_TRUE(SaveSnapshotState(path, s).ok());
  auto loaded = LoadSnapshotState(path);
  ASSERT_TRUE(loaded.ok());
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->pg_snapshot, "730:735:731,733");
  EXPECT_EQ((*loaded)->consistent_point, Lsn(0x1234));
  EXPECT_EQ((*loaded)->last_id, 99);
  EXPECT_EQ((*loaded)->rows, 98);
  EXPECT_TRUE((*loaded)->slot_created);
  std::remove(path.c_str());
}

TEST(SnapshotStateTest, MissingFileIsNoState) {
  auto loaded = LoadSnapshotState("/nonexistent/ingest.state");
  ASSERT_TRUE(loaded.ok());
  EXPECT_FALSE(loaded->has_value());
}

TEST(SnapshotStateTest, DamagedSnapshotTextIsRefused) {
  std::string path = ::testing::TempDir() + "/ingest-bad.state";
  SnapshotState s{.slot = "pulse",
                  .slot_created = true,
                  .pg_snapshot = "1:2:3); DROP TABLE x; --"};
  ASSERT_TRUE(SaveSnapshotState(path, s).ok());
  auto loaded = LoadSnapshotState(path);
  EXPECT_EQ(loaded.status().code(), Status::Code::kDataLoss);
  std::remove(path.c_str());
}

// Regression: with `ingest.snapshot: never` the snapshot text is empty,
// and its empty line swallowed the next one ("done true") when read back,
// so every restart refused the file as damaged.
TEST(SnapshotStateTest, EmptySnapshotTextRoundTrips) {
  std::string path = ::testing::TempDir() + "/ingest-never.state";
  SnapshotState s{.slot = "pulse",
                  .slot_created = true,
                  .consistent_point = Lsn(0x99),
                  .pg_snapshot = "",
                  .done = true,
                  .table_oid = 17481};
  ASSERT_TRUE(SaveSnapshotState(path, s).ok());
  auto loaded = LoadSnapshotState(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_TRUE(loaded->has_value());
  EXPECT_TRUE((*loaded)->done);
  EXPECT_EQ((*loaded)->pg_snapshot, "");
  EXPECT_EQ((*loaded)->consistent_point, Lsn(0x99));
  EXPECT_EQ((*loaded)->table_oid, 17481);
  std::remove(path.c_str());
}

TEST(SnapshotStateTest, NumberThatDoesNotParseIsRefused) {
  std::string path = ::testing::TempDir() + "/ingest-nan.state";
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("slot pulse\nslot_created true\ndone true\nlast_id 12x\n", f);
  std::fclose(f);
  auto loaded = LoadSnapshotState(path);
  EXPECT_EQ(loaded.status().code(), Status::Code::kDataLoss);
  std::remove(path.c_str());
}

TEST(SnapshotMarkerTest, StartedMarkerCarriesWhatResumingNeeds) {
  SnapshotState s{.slot = "pulse",
                  .slot_created = true,
                  .consistent_point = Lsn(0x5072C80),
                  .pg_snapshot = "740:743:740,741",
                  .last_id = 500,
                  .table_oid = 16386};
  SnapshotState back;
  ASSERT_EQ(ParseSnapshotMarker(SnapshotStartedMarker(s), "pulse", back),
            MarkerKind::kStarted);
  EXPECT_EQ(back.consistent_point, s.consistent_point);
  EXPECT_EQ(back.pg_snapshot, s.pg_snapshot);
  EXPECT_EQ(back.table_oid, 16386);
  EXPECT_TRUE(back.slot_created);
  EXPECT_FALSE(back.done);
  EXPECT_EQ(back.last_id, 0) << "a recovered snapshot starts at its first row";
}

TEST(SnapshotMarkerTest, OtherSlotsAndDamagedMarkersAreIgnored) {
  SnapshotState s{
      .slot = "pulse_b", .consistent_point = Lsn(1), .pg_snapshot = "1:2:"};
  SnapshotState out;
  EXPECT_EQ(ParseSnapshotMarker(SnapshotStartedMarker(s), "pulse", out),
            MarkerKind::kNone);
  EXPECT_EQ(ParseSnapshotMarker(SnapshotDoneMarker("pulse_b"), "pulse", out),
            MarkerKind::kNone);
  EXPECT_EQ(ParseSnapshotMarker(SnapshotDoneMarker("pulse"), "pulse", out),
            MarkerKind::kDone);
  EXPECT_EQ(ParseSnapshotMarker("started slot=pulse consistent_point=0/1 "
                                "pg_snapshot=1:2:3);DROP",
                                "pulse", out),
            MarkerKind::kNone);
}

}  // namespace
}  // namespace pulse::ingest
