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

}  // namespace
}  // namespace pulse::ingest
