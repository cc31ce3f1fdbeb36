#include "common/activity_json.h"

#include <fmt/format.h>

#include "common/json_writer.h"

namespace pulse {

namespace {

void OptionalString(JsonWriter& w, std::string_view key,
                    const std::optional<std::string_view>& v) {
  w.Key(key);
  if (v) {
    w.String(*v);
  } else {
    w.Null();
  }
}

}  // namespace

uint64_t AppendActivityJson(const ActivityRow& row, const SourcePosition& src,
                            std::string& out) {
  JsonWriter w(out);
  w.BeginObject();

  w.Key("id");
  if (row.id) {
    w.Int(*row.id);
  } else {
    w.Null();
  }
  OptionalString(w, "action", row.action);
  OptionalString(w, "user", row.user);

  // Normalised to RFC 3339 UTC with milliseconds when parsable.
  w.Key("timestamp");
  if (row.timestamp) {
    char ts[24];
    FormatRfc3339Ms(*row.timestamp, ts);
    w.String(std::string_view(ts, sizeof ts));
  } else if (row.timestamp_text) {
    w.String(*row.timestamp_text);
  } else {
    w.Null();
  }

  OptionalString(w, "ip", row.ip);
  OptionalString(w, "user_agent", row.user_agent);
  OptionalString(w, "collection", row.collection);
  OptionalString(w, "item", row.item);
  OptionalString(w, "origin", row.origin);

  w.Key("source").BeginObject();
  w.Key("lsn").String(src.lsn.ToString());
  w.Key("commit_lsn").String(src.commit_lsn.ToString());
  w.Key("xid").Uint(src.xid);
  w.Key("snapshot").Bool(src.snapshot);
  w.EndObject();

  w.EndObject();
  return w.replaced_bytes();
}

std::string_view ActivityKey(const ActivityRow& row, std::string& scratch) {
  if (row.ip && !row.ip->empty()) {
    return *row.ip;
  }
  scratch.clear();
  if (row.id) {
    fmt::format_to(std::back_inserter(scratch), "{}", *row.id);
  }
  return scratch;
}

}  // namespace pulse
