#include "aggregator/rollup_batch.h"

#include "common/json_writer.h"

namespace pulse::aggregator {

namespace {

// Per-entry overhead of the JSON arrays, for ApproximateBytes().
constexpr size_t kEntryBytes = 48;

void AppendHex(std::string& out, std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xF]);
  }
}

}  // namespace

int64_t GranularityMs(Granularity g) {
  switch (g) {
    case Granularity::kMinute:
      return kMsPerMinute;
    case Granularity::kHour:
      return kMsPerHour;
    case Granularity::kDay:
      return kMsPerDay;
  }
  return kMsPerDay;
}

std::string_view GranularityCode(Granularity g) {
  switch (g) {
    case Granularity::kMinute:
      return "m";
    case Granularity::kHour:
      return "h";
    case Granularity::kDay:
      return "d";
  }
  return "d";
}

uint32_t StringPool::Intern(std::string_view s) {
  auto it = ids_.find(s);
  if (it != ids_.end()) {
    return it->second;
  }
  auto id = static_cast<uint32_t>(strings_.size());
  strings_.emplace_back(s);
  hashes_.push_back(0);
  hashed_.push_back(false);
  ids_.emplace(strings_.back(), id);
  return id;
}

uint64_t StringPool::Hash(uint32_t id) {
  if (!hashed_[id]) {
    hashes_[id] = HllHashBytes(strings_[id]);
    hashed_[id] = true;
  }
  return hashes_[id];
}

void StringPool::Clear() {
  ids_.clear();
  strings_.clear();
  hashes_.clear();
  hashed_.clear();
}

RollupBatch::RollupBatch() { Clear(); }

// TODO(#3): ~2 us per event (node-based hash maps, sorted inserts into
// explicit sketches); flat maps and building sketches at flush would give
// the 500k events/s per core the issue asks for.
void RollupBatch::Add(const BatchEvent& e, const std::array<bool, 3>& skip) {
  ++events_;
  uint32_t collection = pool_.Intern(e.collection);
  uint32_t action = pool_.Intern(e.action);
  uint32_t user = e.user ? pool_.Intern(*e.user) : 0;
  uint32_t ip = e.ip ? pool_.Intern(*e.ip) : 0;
  bool login = action == login_id_;

  for (Granularity g : kGranularities) {
    if (skip[static_cast<size_t>(g)]) {
      continue;
    }
    int64_t bucket = FloorTo(e.time, GranularityMs(g));

    // Per (bucket, collection, action).
    auto [a, fresh_a] = activity_.try_emplace({g, bucket, collection, action});
    ++a->second;
    approx_bytes_ +=
        fresh_a ? kEntryBytes + e.collection.size() + e.action.size() : 0;

    // Per (bucket, collection), with the users seen.
    auto [c, fresh_c] = collections_.try_emplace({g, bucket, collection, 0});
    ++c->second.count;
    approx_bytes_ += fresh_c ? kEntryBytes + e.collection.size() : 0;
    if (e.user) {
      size_t before = c->second.sketch.MemoryBytes();
      c->second.sketch.Add(pool_.Hash(user));
      approx_bytes_ += 2 * (c->second.sketch.MemoryBytes() - before);
    }

    // Per (bucket, user) and per (bucket, ip), with the collections seen.
    if (e.user) {
      auto [u, fresh_u] = users_.try_emplace({g, bucket, user, 0});
      ++u->second.count;
      u->second.sketch.Add(pool_.Hash(collection));
      approx_bytes_ += fresh_u ? kEntryBytes + e.user->size() + 16 : 0;
    }
    if (e.ip) {
      auto [i, fresh_i] = ips_.try_emplace({g, bucket, ip, 0});
      ++i->second.count;
      i->second.logins += login ? 1 : 0;
      i->second.sketch.Add(pool_.Hash(collection));
      approx_bytes_ += fresh_i ? kEntryBytes + e.ip->size() + 16 : 0;
    }
  }
}

void RollupBatch::AppendJsonMembers(std::string& out) {
  // Members of an object already opened by the caller; each begins ",".
  auto begin_array = [&](std::string_view name) {
    out += ",\"";
    out += name;
    out += "\":[";
  };
  auto key_prefix = [&](JsonWriter& w, const RollupKey& k) {
    w.String(GranularityCode(k.g)).Int(k.bucket).String(pool_.Get(k.a));
  };
  auto sketch = [&](std::string& o, const Hll& h) {
    o += ",\"";
    AppendHex(o, h.Serialize());
    o += '"';
  };

  // [granularity, bucket_ms, name, action, count]
  begin_array("activity");
  bool first = true;
  for (const auto& [k, count] : activity_) {
    out += first ? "[" : ",[";
    first = false;
    JsonWriter w(out);
    key_prefix(w, k);
    w.String(pool_.Get(k.b)).Int(count);
    out += ']';
  }
  out += ']';

  // [granularity, bucket_ms, name, count, (logins,) sketch_hex]
  auto counted = [&](std::string_view name, const auto& map, bool logins) {
    begin_array(name);
    bool first_entry = true;
    for (const auto& [k, v] : map) {
      out += first_entry ? "[" : ",[";
      first_entry = false;
      JsonWriter w(out);
      key_prefix(w, k);
      w.Int(v.count);
      if (logins) {
        w.Int(v.logins);
      }
      sketch(out, v.sketch);
      out += ']';
    }
    out += ']';
  };
  counted("collections", collections_, false);
  counted("users", users_, false);
  counted("ips", ips_, true);
}

void RollupBatch::Clear() {
  pool_.Clear();
  activity_.clear();
  collections_.clear();
  users_.clear();
  ips_.clear();
  login_id_ = pool_.Intern("login");
  events_ = 0;
  approx_bytes_ = 0;
}

}  // namespace pulse::aggregator
