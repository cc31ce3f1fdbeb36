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
// partition (an IP's events all land on one partition) and reports which
// changed, so the aggregator can persist exactly those.
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
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

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

class IpActivity {
 public:
  // Adds one event; appends any alert it fires.
  void Observe(std::string_view ip, EventTimeMs time,
               std::string_view collection, std::string_view action,
               const AlertRules& rules, std::vector<Alert>& fired);

  // True when nothing here can matter again: the newest minute is older
  // than every window and cooldown, as of `now_minute`.
  bool Expired(int64_t now_minute, const AlertRules& rules) const;

  // What is persisted: per minute the counts and first/last times, and
  // the cooldowns; the names behind the alert detail stay in memory. About
  // a dozen bytes per minute with traffic.
  std::string Serialize() const;
  static Result<IpActivity> Deserialize(std::string_view bytes);

  // Minutes held, for size estimates.
  size_t minutes() const { return minutes_.size(); }

 private:
  struct Minute {
    int64_t minute = 0;
    int64_t count = 0;
    int64_t logins = 0;
    EventTimeMs first = 0;
    EventTimeMs last = 0;
    bool detail = true;  // false once restored: names are not persisted
    std::vector<std::pair<std::string, int64_t>> collections;
    std::vector<std::pair<std::string, int64_t>> actions;
  };

  Minute& Slot(int64_t minute, const AlertRules& rules);
  Alert MakeAlert(std::string_view rule, std::string_view ip, int64_t minute,
                  int64_t window_min, int64_t count, int64_t threshold) const;

  std::deque<Minute> minutes_;  // ascending, within the longest window
  int64_t suspicious_until_ = INT64_MIN;
  int64_t login_until_ = INT64_MIN;
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

  // The IPs whose state changed since the last call, with their state, or
  // nullopt for IPs that expired and were dropped.
  using Change = std::pair<std::string, std::optional<std::string>>;
  void TakeChanges(std::vector<Change>& out);

  // Restores one IP's state (from local or sink storage).
  Status Load(std::string_view ip, std::string_view bytes);
  size_t size() const { return ips_.size(); }

  // Rough size of what TakeChanges() would return, as hex in a message.
  size_t ApproximateChangeBytes() const { return change_bytes_; }

 private:
  const AlertRules* rules_;
  EventTimeMs now_ = 0;
  EventTimeMs newest_ = INT64_MIN;  // newest event observed
  std::unordered_map<std::string, IpActivity> ips_;
  std::unordered_set<std::string> changed_;
  size_t change_bytes_ = 0;
};

}  // namespace pulse::aggregator

#endif  // PULSE_AGGREGATOR_ALERTS_H_
