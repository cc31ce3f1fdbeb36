// Alert rules over each IP's recent activity, in event time at minute
// resolution.
//
//   suspicious_ip: more than N actions (default 100) from one IP within any
//                  W minutes (default 60);
//   login_burst:   at least L logins (default 20) from one IP within M
//                  minutes (default 10).
//
// When an event makes a window ending at minute m cross its threshold (m
// is the event's minute, or for a late event any later minute seen), and
// the IP's cooldown for that rule has passed by m, an alert fires for the
// window [m - W + 1, m + 1) and the rule cools down until m + C (default
// 60). Its id, "<rule>:<ip>:<window start>", is stable: replaying
// the same events from the same state fires the same alert, so consumers
// and pulse.alerts recognise a replay. IPs on the allow-list (addresses or
// CIDRs) are never alerted.
//
// An IP's windows are an IpActivity; AlertEngine keeps those of one
// partition (an IP's events all land on one partition) and reports what
// changed since the last flush, minute by minute, so the aggregator
// persists only that: per IP and minute the counts and first/last times,
// and per IP its cooldowns. The names behind an alert's detail (which
// collections, which actions) stay in memory, interned once per engine.
//
// Not thread-safe; owned by the aggregator thread.

#ifndef PULSE_AGGREGATOR_ALERTS_H_
#define PULSE_AGGREGATOR_ALERTS_H_

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aggregator/string_map.h"
#include "aggregator/string_pool.h"
#include "common/status.h"
#include "common/time_util.h"

namespace pulse::aggregator {

// An address or CIDR block, IPv4 or IPv6.
struct IpRange {
  std::array<uint8_t, 16> addr{};
  int bits = 0;
  bool v4 = false;

  static Result<IpRange> Parse(std::string_view text);
  bool Contains(std::string_view ip) const;
};

// Parses `ip` as Directus may store it: an address, possibly with a port
// ("1.2.3.4:5678", "[::1]:80"). False for anything else ("not-an-ip").
bool ParseIpAddress(std::string_view ip, std::array<uint8_t, 16>& out,
                    bool& v4);
bool IsPrivateAddress(std::string_view ip);

struct AlertRules {
  int64_t suspicious_threshold = 100;
  int64_t suspicious_window_min = 60;
  int64_t login_threshold = 20;
  int64_t login_window_min = 10;
  int64_t cooldown_min = 60;
  std::vector<IpRange> allow;

  bool Allowed(std::string_view ip) const;
  int64_t LongestWindow() const {
    return std::max(suspicious_window_min, login_window_min);
  }
};

struct Alert {
  std::string id;
  std::string rule;
  std::string ip;
  EventTimeMs window_start = 0;
  EventTimeMs window_end = 0;
  int64_t count = 0;  // actions (or logins) in the window
  int64_t threshold = 0;
  int64_t collections = 0;  // distinct collections in the window
  std::vector<std::pair<std::string, int64_t>> top_collections;
  std::vector<std::pair<std::string, int64_t>> top_actions;
  EventTimeMs first_seen = 0;
  EventTimeMs last_seen = 0;
  // False when part of the window was restored from storage, which keeps
  // counts but not names: the collection figures then cover less.
  bool detail_complete = true;

  // The alert topic's JSON value.
  void AppendJson(std::string& out) const;
};

// One minute of an IP's windows, as persisted.
struct MinuteCounts {
  int64_t minute = 0;  // minutes since the epoch
  int64_t count = 0;
  int64_t logins = 0;
  EventTimeMs first = 0;
  EventTimeMs last = 0;
};

// What changed in one IP's windows since the last flush.
struct IpChange {
  std::string ip;
  std::vector<MinuteCounts> minutes;  // written or rewritten
  std::vector<int64_t> dropped;       // minutes no window needs any more
  std::optional<std::pair<int64_t, int64_t>> cooldowns;  // until-minutes
  bool expired = false;  // the whole IP is dropped
};

class IpActivity {
 public:
  // Adds one event, its collection and action interned in `names`;
  // appends any alert it fires.
  void Observe(std::string_view ip, EventTimeMs time, uint32_t collection,
               uint32_t action, bool login, const AlertRules& rules,
               const StringPool& names, std::vector<Alert>& fired);

  // True when nothing here can matter again: the newest minute is older
  // than every window and cooldown, as of `now_minute`.
  bool Expired(int64_t now_minute, const AlertRules& rules) const;

  // Restores persisted pieces (local RocksDB, or the sink's ip_minute
  // rollups and alerts). Restored minutes carry counts, not names.
  void RestoreMinute(const MinuteCounts& m, const AlertRules& rules);
  void RestoreCooldowns(int64_t suspicious_until, int64_t login_until);

  // Moves what changed since the last call into `out`.
  void CollectChanges(IpChange& out);

  // Replaces every interned name id by fn(id).
  template <typename Fn>
  void RemapNames(Fn&& fn) {
    for (Minute& m : minutes_) {
      m.names.ForEach([&](NameCount& n) {
        n.id = fn(n.id & ~kActionBit) | (n.id & kActionBit);
      });
    }
  }

 private:
  // One name's count in a minute: collections and actions are interned in
  // the engine's pool; the top bit of `id` marks an action.
  struct NameCount {
    uint32_t id = 0;
    uint32_t count = 0;
  };
  static constexpr uint32_t kActionBit = 1u << 31;

  // A minute's names: most minutes of an IP hold one or two events, so
  // the first few live inline and need no allocation.
  class NameCounts {
   public:
    void Bump(uint32_t id);
    template <typename Fn>
    void ForEach(Fn&& fn) const {
      Each(*this, fn);
    }
    template <typename Fn>
    void ForEach(Fn&& fn) {
      Each(*this, fn);
    }

   private:
    template <typename Self, typename Fn>
    static void Each(Self& self, Fn& fn) {
      for (uint32_t i = 0; i < self.inline_size_; ++i) {
        fn(self.inline_[i]);
      }
      for (auto& n : self.more_) {
        fn(n);
      }
    }
    uint32_t size() const {
      return inline_size_ + static_cast<uint32_t>(more_.size());
    }
    NameCount& At(uint32_t i) {
      return i < inline_.size() ? inline_[i] : more_[i - inline_.size()];
    }

    std::array<NameCount, 4> inline_;
    uint32_t inline_size_ = 0;
    std::vector<NameCount> more_;
  };

  struct Minute {
    int64_t minute = 0;
    int64_t count = 0;
    int64_t logins = 0;
    EventTimeMs first = 0;
    EventTimeMs last = 0;
    bool detail = true;  // false once restored: names are not persisted
    bool dirty = false;  // changed since the last CollectChanges
    NameCounts names;
  };

  Minute& Slot(int64_t minute, const AlertRules& rules);
  // The first minute at or after `minute`.
  std::deque<Minute>::iterator FindMinute(int64_t minute);
  // The sum of counts (or logins) in the window of `window` minutes
  // ending at minute `end`.
  int64_t WindowSum(int64_t end, int64_t window, bool logins_only) const;
  Alert MakeAlert(std::string_view rule, std::string_view ip, int64_t minute,
                  int64_t window_min, int64_t count, int64_t threshold,
                  const StringPool& names) const;

  std::deque<Minute> minutes_;  // ascending, within the longest window
  int64_t held_count_ = 0;      // sum over minutes_, an upper bound
  int64_t held_logins_ = 0;     // for any window's sum
  int64_t suspicious_until_ = INT64_MIN;
  int64_t login_until_ = INT64_MIN;
  bool cooldowns_dirty_ = false;
  int64_t dirty_from_ = INT64_MAX;  // oldest minute written since collect
  std::vector<int64_t> trimmed_;    // minutes dropped since the last collect

 public:
  bool listed = false;    // in the engine's list of changed IPs
  bool allowed = false;   // on the allow-list: observes nothing
  bool restored = false;  // holds persisted pieces
};

class AlertEngine {
 public:
  explicit AlertEngine(const AlertRules* rules) : rules_(rules) {}

  // The wall clock. Events more than an hour ahead of it are not alerted
  // on (a bad timestamp must not freeze an IP's windows), and expiry
  // follows event time but never runs ahead of the clock.
  void set_now(EventTimeMs now) { now_ = now; }

  void Observe(std::string_view ip, EventTimeMs time,
               std::string_view collection, std::string_view action,
               std::vector<Alert>& fired);

  // What changed since the last call: per IP, the minutes written and
  // dropped and new cooldowns; IPs that expired come with `expired`.
  void TakeChanges(std::vector<IpChange>& out);

  // Restores persisted pieces of an IP's windows.
  void RestoreMinute(std::string_view ip, const MinuteCounts& m);
  void RestoreCooldowns(std::string_view ip, int64_t suspicious_until,
                        int64_t login_until);
  size_t size() const { return ips_.size(); }
  // Collection and action names held for the windows' alert detail.
  size_t name_count() const { return names_.size(); }

 private:
  const AlertRules* rules_;
  EventTimeMs now_ = 0;
  EventTimeMs newest_ = INT64_MIN;      // newest event observed
  int64_t scanned_minute_ = INT64_MIN;  // of the last expiry scan
  using Map = StringMap<IpActivity>;
  // The IP's entry, created (and checked against the allow-list, once)
  // if new.
  Map::iterator Entry(std::string_view ip);
  // Rebuilds the name pool from the names the windows still hold. Names
  // are an open set (whatever clients send), so the pool is rebuilt once
  // it has doubled since the last time: it stays within twice the names
  // in use, at a cost spread over the names added.
  void CompactNames();

  static constexpr size_t kMinNamesToCompact = 4096;
  Map ips_;
  StringPool names_;
  size_t compact_at_ = kMinNamesToCompact;
  // IPs changed since the last TakeChanges (nodes are stable until erased,
  // which only TakeChanges does after reading this).
  std::vector<Map::value_type*> changed_;
};

}  // namespace pulse::aggregator

#endif  // PULSE_AGGREGATOR_ALERTS_H_
