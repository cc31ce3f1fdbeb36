#include "aggregator/rollup_batch.h"

#include <algorithm>
#include <bit>

#include "common/hex.h"
#include "common/json_writer.h"

namespace pulse::aggregator {

namespace {

// Per-entry overhead of the JSON arrays, for ApproximateBytes().
constexpr size_t kEntryBytes = 48;

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

std::string_view GranularitiesCode(uint8_t grains) {
  static constexpr std::string_view kCodes[] = {"",  "m",  "h",  "mh",
                                                "d", "md", "hd", "mhd"};
  return kCodes[grains & 7];
}

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

  // Staged in the finest granularity kept.
  auto finest = static_cast<Granularity>(std::countr_zero(mask));
  EventTimeMs bucket = FloorTo(e.time, GranularityMs(finest));
  auto key = [&](uint32_t a, uint32_t b) {
    return RollupKey{finest, mask, bucket, a, b};
  };

  // Per (bucket, collection, action).
  Staged& act = Stage(activity_, key(collection, action), e.time,
                      kEntryBytes + e.collection.size() + e.action.size());
  ++act.delta.count;

  // Per (bucket, collection), with the users seen; per (bucket, user) and
  // per (bucket, ip), with the collections seen.
  Staged& c = Stage(collections_, key(collection, 0), e.time,
                    kEntryBytes + e.collection.size());
  ++c.delta.count;
  if (e.user) {
    Note(c, user_hash);
    Staged& u =
        Stage(users_, key(user, 0), e.time, kEntryBytes + e.user->size());
    ++u.delta.count;
    Note(u, collection_hash);
  }
  if (e.ip) {
    Staged& i = Stage(ips_, key(ip, 0), e.time, kEntryBytes + e.ip->size());
    ++i.delta.count;
    i.delta.logins += login ? 1 : 0;
    Note(i, collection_hash);
  }
}

void RollupBatch::Note(Staged& s, uint64_t hash) {
  // A new value adds a hash to this entry's sketch and to each shared
  // total's (hex: 16 characters).
  approx_bytes_ += 16 * (1 + std::popcount(s.shared)) * s.delta.Note(hash);
}

RollupBatch::Staged& RollupBatch::Stage(Kind& kind, const RollupKey& key,
                                        EventTimeMs time, size_t bytes) {
  bool fresh = false;
  uint32_t ordinal = 0;
  Staged& s = kind.staged.FindOrInsert(key, fresh, ordinal);
  if (!fresh) {
    return s;
  }

  // A new entry: find its totals. One it is alone in adds a letter to its
  // code; one shared for the first time becomes an entry of its own, with
  // the first entry's values so far.
  approx_bytes_ += bytes;
  ForEachIn(key.into, [&](size_t g) {
    auto gran = static_cast<Granularity>(g);
    RollupKey total{gran, 0, FloorTo(time, GranularityMs(gran)), key.a, key.b};
    bool new_total = false;
    Total& t = kind.totals.FindOrInsert(total, new_total, s.into[g]);
    if (new_total) {
      t.first = ordinal;
      approx_bytes_ += 1;
      return;
    }
    s.shared |= static_cast<uint8_t>(1u << g);
    if (!t.shared) {
      t.shared = true;
      Staged& first = kind.staged.At(t.first);
      first.shared |= static_cast<uint8_t>(1u << g);
      approx_bytes_ += bytes + 16 * first.delta.hashes.size();
    }
  });
  return s;
}

void RollupBatch::Fold(Kind& kind) {
  kind.totals.ForEach([](const RollupKey&, Total& t) {
    if (t.shared) {
      t.sum = Counted();
    }
  });
  kind.staged.ForEach([&](const RollupKey&, Staged& s) {
    ForEachIn(s.shared, [&](size_t g) {
      Counted& t = kind.totals.At(s.into[g]).sum;
      t.count += s.delta.count;
      t.logins += s.delta.logins;
      t.hashes.insert(t.hashes.end(), s.delta.hashes.begin(),
                      s.delta.hashes.end());
    });
  });
}

void RollupBatch::Counted::Recycle() {
  constexpr size_t kKeep = 8;  // hashes: 64 bytes per slot at most
  count = 0;
  logins = 0;
  compacted = 0;
  if (hashes.capacity() > kKeep) {
    std::vector<uint64_t>().swap(hashes);
  } else {
    hashes.clear();
  }
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

void RollupBatch::AppendJsonMembers(std::string& out) {
  // Members of an object already opened by the caller; each begins ",".
  // Each array holds the staged entries (code: the granularities they
  // stand for, bucket: the finest one's), then the shared totals.
  auto write = [&](std::string_view name, Kind& kind, auto&& values) {
    Fold(kind);
    out += ",\"";
    out += name;
    out += "\":[";
    bool first = true;
    auto entry = [&](uint8_t grains, EventTimeMs bucket, const RollupKey& k,
                     Counted& v) {
      out += first ? "[" : ",[";
      first = false;
      auto finest = static_cast<Granularity>(std::countr_zero(grains));
      JsonWriter w(out);
      w.String(GranularitiesCode(grains))
          .Int(FloorTo(bucket, GranularityMs(finest)))
          .String(pool_.Get(k.a));
      values(w, k, v);
      out += ']';
    };
    kind.staged.ForEach([&](const RollupKey& k, Staged& s) {
      uint8_t alone = k.into & static_cast<uint8_t>(~s.shared);
      if (alone != 0) {
        entry(alone, k.bucket, k, s.delta);
      }
    });
    kind.totals.ForEach([&](const RollupKey& k, Total& t) {
      if (t.shared) {
        entry(static_cast<uint8_t>(1u << static_cast<size_t>(k.g)), k.bucket, k,
              t.sum);
      }
    });
    out += ']';
  };
  std::string bytes;  // one sketch's, reused
  auto sketch = [&](std::string& o, Counted& v) {
    bytes.clear();
    Hll::AppendSerializedSet(kUserSketchParams, v.hashes, bytes);
    o += ",\"";
    AppendHex(o, bytes);
    o += '"';
  };

  // [grains, bucket_ms, collection, action, count]
  write("activity", activity_,
        [&](JsonWriter& w, const RollupKey& k, Counted& v) {
          w.String(pool_.Get(k.b)).Int(v.count);
        });
  // [grains, bucket_ms, name, count, (logins,) sketch_hex]
  auto counted = [&](JsonWriter& w, const RollupKey&, Counted& v) {
    w.Int(v.count);
    sketch(out, v);
  };
  write("collections", collections_, counted);
  write("users", users_, counted);
  write("ips", ips_, [&](JsonWriter& w, const RollupKey&, Counted& v) {
    w.Int(v.count).Int(v.logins);
    sketch(out, v);
  });
}

void RollupBatch::Clear() {
  pool_.Clear();
  activity_.Clear();
  collections_.Clear();
  users_.Clear();
  ips_.Clear();
  login_id_ = pool_.Intern("login");
  events_ = 0;
  approx_bytes_ = 0;
}

}  // namespace pulse::aggregator
