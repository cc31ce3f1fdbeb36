#include "ingest/ack_tracker.h"

#include <gtest/gtest.h>

namespace pulse::ingest {
namespace {

TEST(AckTrackerTest, DurableOnlyAfterEveryMessageDelivered) {
  AckTracker t;
  auto a = t.Open();
  t.AddMessage(a);
  t.AddMessage(a);
  t.Close(a, 100);
  EXPECT_FALSE(t.DurableTag().has_value());
  t.Delivered(a, 0, 5);
  EXPECT_FALSE(t.DurableTag().has_value());
  t.Delivered(a, 1, 7);
  EXPECT_EQ(t.DurableTag(), 100u);
  EXPECT_EQ(t.pending_units(), 0u);
}

TEST(AckTrackerTest, LaterUnitWaitsForEarlierOne) {
  AckTracker t;
  auto a = t.Open();
  t.AddMessage(a);
  t.Close(a, 100);
  auto b = t.Open();
  t.AddMessage(b);
  t.Close(b, 200);
  t.Delivered(b, 0, 1);
  EXPECT_FALSE(t.DurableTag().has_value()) << "b must wait for a";
  t.Delivered(a, 0, 0);
  EXPECT_EQ(t.DurableTag(), 200u);
}

TEST(AckTrackerTest, OpenUnitBlocksEvenWithNothingPending) {
  AckTracker t;
  auto a = t.Open();
  EXPECT_FALSE(t.DurableTag().has_value());
  t.Close(a, 50);
  EXPECT_EQ(t.DurableTag(), 50u) << "a unit without messages is a marker";
}

TEST(AckTrackerTest, HorizonHoldsUnitsUntilAggregatorCommitted) {
  AckTracker t;
  auto a = t.Open();
  t.AddMessage(a);
  t.AddMessage(a);
  t.Close(a, 100);
  t.Delivered(a, 0, 10);
  t.Delivered(a, 3, 4);
  AckTracker::Horizon h = {{0, 11}, {3, 4}};
  EXPECT_FALSE(t.DurableTag(&h).has_value()) << "offset 4 not below 4";
  h[3] = 5;
  EXPECT_EQ(t.DurableTag(&h), 100u);
}

TEST(AckTrackerTest, MissingPartitionInHorizonIsNotDurable) {
  AckTracker t;
  auto a = t.Open();
  t.AddMessage(a);
  t.Close(a, 1);
  t.Delivered(a, 2, 0);
  AckTracker::Horizon h = {{0, 100}};
  EXPECT_FALSE(t.DurableTag(&h).has_value());
}

TEST(AckTrackerTest, CountsInFlightAndDeliveredOffsets) {
  AckTracker t;
  auto a = t.Open();
  for (int i = 0; i < 3; ++i) {
    t.AddMessage(a);
  }
  EXPECT_EQ(t.in_flight(), 3u);
  t.Delivered(a, 1, 40);
  t.Delivered(a, 1, 41);
  EXPECT_EQ(t.in_flight(), 1u);
  EXPECT_EQ(t.delivered_offsets().at(1), 41);
}

// Regression: a session that lost PostgreSQL mid-transaction (or mid
// snapshot chunk) left its unit open for ever, so nothing after it became
// durable: the slot stopped moving and a resumed snapshot never finished.
TEST(AckTrackerTest, AbandonedUnitNoLongerBlocksLaterUnits) {
  AckTracker t;
  auto a = t.Open();
  t.AddMessage(a);
  t.Close(a, 100);
  t.Delivered(a, 0, 0);
  auto cut = t.Open();  // the session ended inside this one
  t.AddMessage(cut);
  t.Delivered(cut, 0, 1);
  t.AbandonOpen();
  auto replay = t.Open();  // the next session sends the rows again
  t.AddMessage(replay);
  t.Close(replay, 300);
  t.Delivered(replay, 0, 2);
  EXPECT_EQ(t.DurableTag(), 300u);
  EXPECT_EQ(t.pending_units(), 0u);
}

TEST(AckTrackerTest, AbandonedUnitWaitsForItsMessagesButGivesNoTag) {
  AckTracker t;
  auto a = t.Open();
  t.Close(a, 100);
  auto cut = t.Open();
  t.AddMessage(cut);
  t.AbandonOpen();
  EXPECT_EQ(t.DurableTag(), 100u);
  EXPECT_EQ(t.pending_units(), 1u) << "its message is still in flight";
  t.Delivered(cut, 4, 9);
  EXPECT_FALSE(t.DurableTag().has_value()) << "nothing it makes durable";
  EXPECT_EQ(t.pending_units(), 0u);
}

TEST(AckTrackerTest, AbandonLeavesClosedUnitsAlone) {
  AckTracker t;
  auto a = t.Open();
  t.AddMessage(a);
  t.Close(a, 100);
  t.AbandonOpen();
  t.Delivered(a, 0, 0);
  EXPECT_EQ(t.DurableTag(), 100u);
}

}  // namespace
}  // namespace pulse::ingest
