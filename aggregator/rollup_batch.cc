#include "aggregator/rollup_batch.h"

#include <algorithm>
#include <bit>

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

// The granularities set in `mask`, finest first.
template <typename Fn>
void ForEachIn(uint8_t mask, Fn&& fn) {
  for (size_t g = 0; g < kGranularities.size(); ++g) {
    if (mask & (1u << g)) {
      fn(g);
    }
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
  if (const uint32_t* id = ids_.Find(s)) {
    return *id;
  }
  // The map keeps a view of our own copy, not of the caller's buffer.
  auto id = static_cast<uint32_t>(strings_.size());
  strings_.emplace_back(s);
  hashes_.push_back(0);
  hashed_.push_back(false);
  bool fresh = false;
  ids_.FindOrInsert(strings_.back(), fresh) = id;
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
  ids_.Clear();
  strings_.clear();
  hashes_.clear();
  hashed_.clear();
}

RollupBatch::RollupBatch() { Clear(); }

void RollupBatch::Add(const BatchEvent& e, const std::array<bool, 3>& skip) {
  ++events_;
  uint8_t mask = 0;
  for (size_t g = 0; g < skip.size(); ++g) {
    mask |= skip[g] ? 0 : static_cast<uint8_t>(1u << g);
  }
  if (mask == 0) {
    return;  // older than every retention
  }
  uint32_t collection = pool_.Intern(e.collection);
  uint32_t action = pool_.Intern(e.action);
  uint32_t user = e.user ? pool_.Intern(*e.user) : 0;
  uint32_t ip = e.ip ? pool_.Intern(*e.ip) : 0;
  bool login = action == login_id_;
  uint64_t user_hash = e.user ? pool_.Hash(user) : 0;
  uint64_t collection_hash = pool_.Hash(collection);

  // One staged entry per kind, in the finest granularity kept.
  auto finest = static_cast<Granularity>(std::countr_zero(mask));
  RollupKey key{finest, mask, FloorTo(e.time, GranularityMs(finest)), 0, 0};
  auto with = [&key](uint32_t a, uint32_t b) {
    RollupKey k = key;
    k.a = a;
    k.b = b;
    return k;
  };
  bool fresh = false;

  // Per (bucket, collection, action).
  RollupKey k = with(collection, action);
  StagedCount& act = staged_activity_.FindOrInsert(k, fresh);
  if (fresh) {
    act.into = Place(activity_, k, e.time,
                     kEntryBytes + e.collection.size() + e.action.size());
  }
  ++act.count;

  // Per (bucket, collection), with the users seen. A new user is counted
  // in every granularity's sketch size, an upper bound of what it adds.
  k = with(collection, 0);
  StagedCounted& c = staged_collections_.FindOrInsert(k, fresh);
  if (fresh) {
    c.into = Place(collections_, k, e.time, kEntryBytes + e.collection.size());
  }
  ++c.delta.count;
  if (e.user) {
    approx_bytes_ += 16 * std::popcount(mask) * c.delta.Note(user_hash);
  }

  // Per (bucket, user) and per (bucket, ip), with the collections seen.
  if (e.user) {
    k = with(user, 0);
    StagedCounted& u = staged_users_.FindOrInsert(k, fresh);
    if (fresh) {
      u.into = Place(users_, k, e.time, kEntryBytes + e.user->size() + 16);
    }
    ++u.delta.count;
    u.delta.Note(collection_hash);
  }
  if (e.ip) {
    k = with(ip, 0);
    StagedCounted& i = staged_ips_.FindOrInsert(k, fresh);
    if (fresh) {
      i.into = Place(ips_, k, e.time, kEntryBytes + e.ip->size() + 16);
    }
    ++i.delta.count;
    i.delta.logins += login ? 1 : 0;
    i.delta.Note(collection_hash);
  }
}

template <typename Map>
std::array<uint32_t, 3> RollupBatch::Place(Map& totals, RollupKey key,
                                           EventTimeMs time, size_t bytes) {
  std::array<uint32_t, 3> into{};
  ForEachIn(key.into, [&](size_t g) {
    auto gran = static_cast<Granularity>(g);
    RollupKey total{gran, 0, FloorTo(time, GranularityMs(gran)), key.a, key.b};
    bool fresh = false;
    into[g] = totals.FindOrInsertOrdinal(total, fresh);
    approx_bytes_ += fresh ? bytes : 0;
  });
  return into;
}

void RollupBatch::Fold() {
  staged_activity_.ForEach([&](const RollupKey& k, StagedCount& s) {
    ForEachIn(k.into, [&](size_t g) { activity_.At(s.into[g]) += s.count; });
  });
  staged_activity_.Clear();

  auto fold = [](StagedCountedMap& staged, CountedMap& totals) {
    staged.ForEach([&](const RollupKey& k, StagedCounted& s) {
      ForEachIn(k.into, [&](size_t g) {
        Counted& t = totals.At(s.into[g]);
        t.count += s.delta.count;
        t.logins += s.delta.logins;
        t.hashes.insert(t.hashes.end(), s.delta.hashes.begin(),
                        s.delta.hashes.end());
      });
    });
    staged.Clear();
  };
  fold(staged_collections_, collections_);
  fold(staged_users_, users_);
  fold(staged_ips_, ips_);
}

int64_t RollupBatch::Counted::Note(uint64_t h) {
  // Small lists stay exact by scanning; big ones append and are compacted
  // (sorted, deduplicated) whenever they double, which keeps them near
  // their distinct size at amortized O(log n) per hash.
  constexpr size_t kScan = 32;
  if (hashes.size() < kScan) {
    if (std::find(hashes.begin(), hashes.end(), h) != hashes.end()) {
      return 0;
    }
    hashes.push_back(h);
    return 1;
  }
  if (hashes.back() == h) {
    return 0;
  }
  hashes.push_back(h);
  if (hashes.size() < 2 * std::max(compacted, kScan)) {
    return 1;
  }
  size_t before = hashes.size();
  std::sort(hashes.begin(), hashes.end());
  hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
  compacted = hashes.size();
  return 1 - static_cast<int64_t>(before - hashes.size());
}

Hll RollupBatch::Counted::Sketch() {
  // In the sketch's own (signed) order each Add appends: no shifting.
  std::sort(hashes.begin(), hashes.end(), [](uint64_t a, uint64_t b) {
    return static_cast<int64_t>(a) < static_cast<int64_t>(b);
  });
  hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
  Hll h(kUserSketchParams);
  for (uint64_t v : hashes) {
    h.Add(v);
  }
  return h;
}

void RollupBatch::AppendJsonMembers(std::string& out) {
  Fold();
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
  activity_.ForEach([&](const RollupKey& k, int64_t count) {
    out += first ? "[" : ",[";
    first = false;
    JsonWriter w(out);
    key_prefix(w, k);
    w.String(pool_.Get(k.b)).Int(count);
    out += ']';
  });
  out += ']';

  // [granularity, bucket_ms, name, count, (logins,) sketch_hex]
  auto counted = [&](std::string_view name, CountedMap& map, bool logins) {
    begin_array(name);
    bool first_entry = true;
    map.ForEach([&](const RollupKey& k, Counted& v) {
      out += first_entry ? "[" : ",[";
      first_entry = false;
      JsonWriter w(out);
      key_prefix(w, k);
      w.Int(v.count);
      if (logins) {
        w.Int(v.logins);
      }
      sketch(out, v.Sketch());
      out += ']';
    });
    out += ']';
  };
  counted("collections", collections_, false);
  counted("users", users_, false);
  counted("ips", ips_, true);
}

void RollupBatch::Clear() {
  pool_.Clear();
  activity_.Clear();
  collections_.Clear();
  users_.Clear();
  ips_.Clear();
  staged_activity_.Clear();
  staged_collections_.Clear();
  staged_users_.Clear();
  staged_ips_.Clear();
  login_id_ = pool_.Intern("login");
  events_ = 0;
  approx_bytes_ = 0;
}

}  // namespace pulse::aggregator
