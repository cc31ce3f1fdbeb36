#include "sink/rollup_message.h"

#include <fmt/format.h>
#include <simdjson.h>

namespace pulse::sink {

namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

Status Bad(std::string_view what) {
  return Status::InvalidArgument(
      fmt::format("rollup message: {} is missing or malformed", what));
}

// An entry's granularities: one to three of "m", "h", "d", finest first
// ("mhd": a minute, the hour and the day containing it).
std::optional<std::vector<Grain>> ParseGrains(std::string_view code) {
  std::vector<Grain> grains;
  size_t at = 0;
  for (auto [letter, grain] :
       {std::pair{'m', Grain::kMinute}, std::pair{'h', Grain::kHour},
        std::pair{'d', Grain::kDay}}) {
    if (at < code.size() && code[at] == letter) {
      grains.push_back(grain);
      ++at;
    }
  }
  if (grains.empty() || at != code.size()) {
    return std::nullopt;
  }
  return grains;
}

int64_t GrainMs(Grain g) {
  static constexpr int64_t kMs[] = {kMsPerMinute, kMsPerHour, kMsPerDay};
  return kMs[static_cast<size_t>(g)];
}

std::optional<std::string> FromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return std::nullopt;
  }
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = nibble(hex[2 * i]);
    int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    out[i] = static_cast<char>(hi << 4 | lo);
  }
  return out;
}

// The bucket of each granularity an entry stands for.
using Buckets = std::vector<std::pair<Grain, EventTimeMs>>;

// [grains, bucket_ms, name, ...rest]: the common head of every entry. The
// bucket is the finest granularity's; coarser ones contain it.
bool ReadHead(array a, Buckets& buckets, std::string_view& name) {
  std::string_view code;
  EventTimeMs bucket = 0;
  if (a.at(0).get_string().get(code) || a.at(1).get_int64().get(bucket) ||
      a.at(2).get_string().get(name)) {
    return false;
  }
  auto grains = ParseGrains(code);
  if (!grains) {
    return false;
  }
  buckets.clear();
  for (Grain g : *grains) {
    buckets.emplace_back(g, FloorTo(bucket, GrainMs(g)));
  }
  return true;
}

// One copy of the delta `d` per granularity its entry stands for.
template <typename Delta>
void AppendPerGrain(const Buckets& buckets, Delta& d, std::vector<Delta>& out) {
  for (auto [grain, bucket] : buckets) {
    d.grain = grain;
    d.bucket = bucket;
    out.push_back(d);
  }
}

Status ReadSketches(element root, const char* key, bool logins,
                    std::vector<SketchDelta>& out) {
  array entries;
  if (root[key].get_array().get(entries)) {
    return Bad(key);
  }
  Buckets buckets;
  for (element e : entries) {
    array a;
    SketchDelta d{};
    std::string_view name, hex;
    size_t sketch_at = logins ? 5 : 4;
    if (e.get_array().get(a) || !ReadHead(a, buckets, name) ||
        a.at(3).get_int64().get(d.count) ||
        (logins && a.at(4).get_int64().get(d.logins)) ||
        a.at(sketch_at).get_string().get(hex)) {
      return Bad(std::string(key) + " entry");
    }
    auto bytes = FromHex(hex);
    if (!bytes) {
      return Bad(std::string(key) + " sketch");
    }
    d.name = name;
    d.sketch = std::move(*bytes);
    AppendPerGrain(buckets, d, out);
  }
  return Status::Ok();
}

Status ReadAlerts(element root, RollupMessage& m) {
  array alerts;
  if (root["alerts"].get_array().get(alerts)) {
    return Bad("alerts");
  }
  for (element e : alerts) {
    AlertRow a{};
    std::string_view id, rule, ip, ws, we, fs, ls;
    if (e["id"].get_string().get(id) || e["rule"].get_string().get(rule) ||
        e["ip"].get_string().get(ip) ||
        e["window_start"].get_string().get(ws) ||
        e["window_end"].get_string().get(we) ||
        e["first_seen"].get_string().get(fs) ||
        e["last_seen"].get_string().get(ls) ||
        e["activity_count"].get_int64().get(a.count) ||
        e["collections_accessed"].get_int64().get(a.collections)) {
      return Bad("alert");
    }
    auto t0 = ParseTimestamp(ws), t1 = ParseTimestamp(we);
    auto t2 = ParseTimestamp(fs), t3 = ParseTimestamp(ls);
    if (!t0 || !t1 || !t2 || !t3) {
      return Bad("alert time");
    }
    a.id = id;
    a.rule = rule;
    a.ip = ip;
    a.window_start = *t0;
    a.window_end = *t1;
    a.first_seen = *t2;
    a.last_seen = *t3;
    a.json = simdjson::minify(e);
    m.alerts.push_back(std::move(a));
  }
  return Status::Ok();
}

}  // namespace

std::string_view GrainName(Grain g) {
  switch (g) {
    case Grain::kMinute:
      return "minute";
    case Grain::kHour:
      return "hour";
    case Grain::kDay:
      return "day";
  }
  return "day";
}

Result<RollupMessage> ParseRollupMessage(std::string_view json) {
  simdjson::dom::parser parser;
  element root;
  if (parser.parse(json.data(), json.size()).get(root)) {
    return Status::InvalidArgument("rollup message: not JSON");
  }
  RollupMessage m;
  int64_t version = 0;
  std::string_view type, topic, cluster, commit, lsn;
  // Version 1 is version 2 without entries naming several granularities.
  if (root["v"].get_int64().get(version) || version < 1 ||
      version > kRollupMessageVersion) {
    return Status::InvalidArgument(fmt::format(
        "rollup message: version {} is not one this sink reads (1 to {}); "
        "upgrade the sink before the aggregators",
        version, kRollupMessageVersion));
  }
  if (root["type"].get_string().get(type) ||
      (type != "batch" && type != "claim")) {
    return Bad("type");
  }

  // Which input partition, and its owner.
  int64_t partition = 0;
  if (root["topic"].get_string().get(topic) ||
      root["partition"].get_int64().get(partition) ||
      root["cluster"].get_string().get(cluster) ||
      root["generation"].get_int64().get(m.generation)) {
    return Bad("topic, partition, cluster or generation");
  }
  m.topic = topic;
  m.partition = static_cast<int32_t>(partition);
  m.cluster = cluster;
  if (type == "claim") {
    m.type = RollupMessage::Type::kClaim;
    return m;
  }

  // Where the batch sits in its input partition.
  if (root["from"].get_int64().get(m.from) ||
      root["to"].get_int64().get(m.to) || m.to < m.from) {
    return Bad("from or to");
  }
  element pos = root["position"];
  if (pos["commit_lsn"].get_string().get(commit) ||
      pos["lsn"].get_string().get(lsn) ||
      pos["id"].get_int64().get(m.position_id) || !Lsn::Parse(commit) ||
      !Lsn::Parse(lsn)) {
    return Bad("position");
  }
  m.position_commit_lsn = *Lsn::Parse(commit);
  m.position_lsn = *Lsn::Parse(lsn);
  if (root["newest_event_time"].get_int64().get(m.newest_event_time) ||
      root["events"].get_int64().get(m.events)) {
    return Bad("newest_event_time or events");
  }

  // The deltas.
  array activity;
  if (root["activity"].get_array().get(activity)) {
    return Bad("activity");
  }
  Buckets buckets;
  for (element e : activity) {
    array a;
    ActivityDelta d{};
    std::string_view collection, action;
    if (e.get_array().get(a) || !ReadHead(a, buckets, collection) ||
        a.at(3).get_string().get(action) || a.at(4).get_int64().get(d.count)) {
      return Bad("activity entry");
    }
    d.collection = collection;
    d.action = action;
    AppendPerGrain(buckets, d, m.activity);
  }
  PULSE_RETURN_IF_ERROR(
      ReadSketches(root, "collections", false, m.collections));
  PULSE_RETURN_IF_ERROR(ReadSketches(root, "users", false, m.users));
  PULSE_RETURN_IF_ERROR(ReadSketches(root, "ips", true, m.ips));

  // The alerts fired.
  PULSE_RETURN_IF_ERROR(ReadAlerts(root, m));
  return m;
}

}  // namespace pulse::sink
