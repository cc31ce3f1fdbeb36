// ActivityRow: one row of directus_activity as Pulse carries it, and where it
// came from in the source database.
//
// Fields are views into a buffer owned by whoever decoded the row (the
// pgoutput message, a COPY line, a Kafka message); a row is valid only as
// long as that buffer. Every column can be absent: Directus stores some
// values unchecked, and the table's shape changes between versions.

#ifndef PULSE_COMMON_ACTIVITY_H_
#define PULSE_COMMON_ACTIVITY_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/lsn.h"
#include "common/time_util.h"

namespace pulse {

// The columns Pulse reads, in the order of the activity topic's JSON.
enum class ActivityField : uint8_t {
  kId,
  kAction,
  kUser,
  kTimestamp,
  kIp,
  kUserAgent,
  kCollection,
  kItem,
  kOrigin,
  kCount,  // number of fields; also "a column Pulse does not read"
};

// The column name of each field in directus_activity.
std::string_view ActivityColumnName(ActivityField f);
// The field a column name maps to, or kCount for other columns.
ActivityField ActivityFieldForColumn(std::string_view column);

struct ActivityRow {
  std::optional<int64_t> id;
  std::optional<std::string_view> action;
  std::optional<std::string_view> user;
  // The timestamp as the source printed it, and parsed; a present but
  // unparsable value keeps its text and leaves `timestamp` empty.
  std::optional<std::string_view> timestamp_text;
  std::optional<EventTimeMs> timestamp;
  std::optional<std::string_view> ip;
  std::optional<std::string_view> user_agent;
  std::optional<std::string_view> collection;
  std::optional<std::string_view> item;
  std::optional<std::string_view> origin;
};

// Where a row came from. Within one partition of the activity topic the
// position (commit_lsn, lsn, id) only grows during a run, and a replay
// repeats positions exactly, so a consumer recognises replays by comparing
// with the highest position it has applied.
struct SourcePosition {
  Lsn lsn;         // the insert's WAL position (snapshot: slot start)
  Lsn commit_lsn;  // its transaction's commit (snapshot: slot start)
  uint32_t xid = 0;
  bool snapshot = false;
};

}  // namespace pulse

#endif  // PULSE_COMMON_ACTIVITY_H_
