// Reading the activity topic back in tests, and the replay rule a consumer
// applies: within a partition, a message whose source position (commit_lsn,
// lsn, id) is not above the highest seen so far is a replay.

#ifndef PULSE_TESTS_HARNESS_ACTIVITY_TOPIC_H_
#define PULSE_TESTS_HARNESS_ACTIVITY_TOPIC_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "common/lsn.h"

namespace pulse::testing {

struct ActivityMessage {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
  std::optional<int64_t> id;
  Lsn commit_lsn;
  Lsn lsn;
  bool snapshot = false;
  std::map<std::string, std::string> headers;

  std::tuple<Lsn, Lsn, int64_t> position() const {
    return {commit_lsn, lsn, id.value_or(0)};
  }
};

// Every message of `topic`, from the beginning, read until no new message
// arrived for `idle`. Messages are in offset order per partition.
// Values are parsed as activity JSON unless `parse` is false.
std::vector<ActivityMessage> ReadActivityTopic(
    const std::string& bootstrap, const std::string& topic,
    std::chrono::milliseconds idle = std::chrono::milliseconds(1500),
    bool parse = true);

struct ReplayCheck {
  std::map<int64_t, int> applied;  // id -> times applied after dedup
  int64_t replays = 0;             // messages recognised as replays
};

// Applies the replay rule partition by partition.
ReplayCheck ApplyReplayRule(const std::vector<ActivityMessage>& messages);

}  // namespace pulse::testing

#endif  // PULSE_TESTS_HARNESS_ACTIVITY_TOPIC_H_
