// RollupMessage: one message of the rollups topic as the sink reads it
// (format: schemas/rollup.schema.json, written by aggregator/flush.cc).
//
// A batch covers input offsets [from, to) of one partition of the
// activity topic and carries what those events add to the rollup tables
// and the alerts they fired; a claim fences a partition's previous owner.

#ifndef PULSE_SINK_ROLLUP_MESSAGE_H_
#define PULSE_SINK_ROLLUP_MESSAGE_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/lsn.h"
#include "common/status.h"
#include "common/time_util.h"

namespace pulse::sink {

// The newest rollup message version this sink reads.
constexpr int64_t kRollupMessageVersion = 2;

// Which table of a kind: minute, hour or day buckets.
enum class Grain : uint8_t { kMinute = 0, kHour = 1, kDay = 2 };
constexpr std::array<Grain, 3> kAllGrains = {Grain::kMinute, Grain::kHour,
                                             Grain::kDay};
std::string_view GrainName(Grain g);  // "minute", "hour", "day"

struct ActivityDelta {
  Grain grain;
  EventTimeMs bucket;
  std::string collection;
  std::string action;
  int64_t count;
};

// collections (name = collection, sketch of users), users (name = user,
// sketch of collections), ips (name = ip, sketch of collections, logins).
struct SketchDelta {
  Grain grain;
  EventTimeMs bucket;
  std::string name;
  int64_t count;
  int64_t logins;      // ips only
  std::string sketch;  // hll storage bytes
};

struct AlertRow {
  std::string id;
  std::string rule;
  std::string ip;
  EventTimeMs window_start;
  EventTimeMs window_end;
  int64_t count;
  int64_t collections;
  EventTimeMs first_seen;
  EventTimeMs last_seen;
  std::string json;  // the whole alert, for pulse.alerts.detail
};

struct RollupMessage {
  // A batch covers input offsets [from, to). A claim only says that the
  // partition has a new owner, of `generation`: from then on the sink
  // rejects batches of older generations (from and to are unused).
  enum class Type : uint8_t { kBatch, kClaim };
  Type type = Type::kBatch;
  std::string topic;  // the activity topic
  int32_t partition = 0;
  std::string cluster;
  int64_t generation = 0;
  int64_t from = 0;
  int64_t to = 0;
  Lsn position_commit_lsn;
  Lsn position_lsn;
  int64_t position_id = 0;
  EventTimeMs newest_event_time = 0;
  int64_t events = 0;

  std::vector<ActivityDelta> activity;
  std::vector<SketchDelta> collections;
  std::vector<SketchDelta> users;
  std::vector<SketchDelta> ips;
  std::vector<AlertRow> alerts;
};

// Parses a message value; errors name the field that is wrong.
Result<RollupMessage> ParseRollupMessage(std::string_view json);

}  // namespace pulse::sink

#endif  // PULSE_SINK_ROLLUP_MESSAGE_H_
