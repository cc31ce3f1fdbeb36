// The activity topic's message format (schemas/activity.schema.json):
//
//   key:   the row's ip, or its id when ip is null or empty
//   value: {"id":1,"action":"create","user":"..","timestamp":
//           "2026-12-03T15:54:12.123Z","ip":"..","user_agent":"..",
//           "collection":"..","item":"..","origin":"..",
//           "source":{"lsn":"0/16B6C50","commit_lsn":"0/16B6D00",
//                     "xid":731,"snapshot":false}}
//
// Every field is always present; absent values are null. Strings pass
// through intact (quotes, unicode, 10 KB user agents, ips that are not IPs);
// bytes that are not UTF-8 (possible only in SQL_ASCII databases) become
// U+FFFD and are counted. A timestamp the source printed in a form Pulse
// cannot parse keeps its original text, so the consumer can reject it.

#ifndef PULSE_COMMON_ACTIVITY_JSON_H_
#define PULSE_COMMON_ACTIVITY_JSON_H_

#include <string>
#include <string_view>

#include "common/activity.h"

namespace pulse {

// Appends the JSON value to `out`; returns bytes of invalid UTF-8 replaced.
uint64_t AppendActivityJson(const ActivityRow& row, const SourcePosition& src,
                            std::string& out);

// The message key; `scratch` holds the id's digits when used.
std::string_view ActivityKey(const ActivityRow& row, std::string& scratch);

}  // namespace pulse

#endif  // PULSE_COMMON_ACTIVITY_JSON_H_
