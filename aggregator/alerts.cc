#include "aggregator/alerts.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "common/json_writer.h"

namespace pulse::aggregator {

namespace {

constexpr uint8_t kStateVersion = 2;
constexpr size_t kTop = 5;

void Bump(std::vector<std::pair<std::string, int64_t>>& counts,
          std::string_view name) {
  for (auto& [n, c] : counts) {
    if (n == name) {
      ++c;
      return;
    }
  }
  counts.emplace_back(name, 1);
}

// Sums per-name counts over minutes and keeps the largest few.
std::vector<std::pair<std::string, int64_t>> Top(
    const std::map<std::string, int64_t>& totals) {
  std::vector<std::pair<std::string, int64_t>> v(totals.begin(), totals.end());
  std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
    return a.second > b.second;
  });
  if (v.size() > kTop) {
    v.resize(kTop);
  }
  return v;
}

// Little helpers for the state's binary form.
void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void PutI64(std::string& out, int64_t v) {
  PutVarint(out, (static_cast<uint64_t>(v) << 1) ^
                     static_cast<uint64_t>(v >> 63));  // zigzag
}
void PutStr(std::string& out, std::string_view s) {
  PutVarint(out, s.size());
  out.append(s);
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool Varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) {
        return false;
      }
      auto b = static_cast<uint8_t>(in_[0]);
      in_.remove_prefix(1);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) {
        return true;
      }
    }
    return false;
  }
  bool I64(int64_t& v) {
    uint64_t u;
    if (!Varint(u)) {
      return false;
    }
    v = static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
    return true;
  }
  bool Str(std::string& s) {
    uint64_t n;
    if (!Varint(n) || n > in_.size()) {
      return false;
    }
    s.assign(in_.substr(0, n));
    in_.remove_prefix(n);
    return true;
  }
  bool Counts(std::vector<std::pair<std::string, int64_t>>& out) {
    uint64_t n;
    if (!Varint(n) || n > in_.size()) {
      return false;
    }
    out.resize(n);
    for (auto& [name, count] : out) {
      if (!Str(name) || !I64(count)) {
        return false;
      }
    }
    return true;
  }
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

}  // namespace

void Alert::AppendJson(std::string& out) const {
  char start[24], end[24], first[24], last[24];
  FormatRfc3339Ms(window_start, start);
  FormatRfc3339Ms(window_end, end);
  FormatRfc3339Ms(first_seen, first);
  FormatRfc3339Ms(last_seen, last);
  auto pairs = [](JsonWriter& w, std::string_view label,
                  const std::vector<std::pair<std::string, int64_t>>& v) {
    w.BeginArray();
    for (const auto& [name, count] : v) {
      w.BeginObject().Key(label).String(name).Key("count").Int(count);
      w.EndObject();
    }
    w.EndArray();
  };

  JsonWriter w(out);
  w.BeginObject();
  w.Key("id").String(id);
  w.Key("rule").String(rule);
  w.Key("ip").String(ip);
  w.Key("window_start").String({start, 24});
  w.Key("window_end").String({end, 24});
  w.Key("activity_count").Int(count);
  w.Key("threshold").Int(threshold);
  w.Key("collections_accessed").Int(collections);
  w.Key("top_collections");
  pairs(w, "collection", top_collections);
  w.Key("top_actions");
  pairs(w, "action", top_actions);
  w.Key("first_seen").String({first, 24});
  w.Key("last_seen").String({last, 24});
  w.Key("detail_complete").Bool(detail_complete);
  w.EndObject();
}

IpActivity::Minute& IpActivity::Slot(int64_t minute, const AlertRules& rules) {
  // Usually the newest minute; out-of-order events land in place.
  auto it =
      std::lower_bound(minutes_.begin(), minutes_.end(), minute,
                       [](const Minute& m, int64_t v) { return m.minute < v; });
  if (it == minutes_.end() || it->minute != minute) {
    Minute m;
    m.minute = minute;
    it = minutes_.insert(it, std::move(m));
  }
  Minute& slot = *it;

  // Forget minutes no window can reach any more.
  int64_t oldest = minutes_.back().minute - rules.LongestWindow() + 1;
  while (!minutes_.empty() && minutes_.front().minute < oldest &&
         &minutes_.front() != &slot) {
    minutes_.pop_front();
  }
  return slot;
}

void IpActivity::Observe(std::string_view ip, EventTimeMs time,
                         std::string_view collection, std::string_view action,
                         const AlertRules& rules, std::vector<Alert>& fired) {
  int64_t minute = FloorTo(time, kMsPerMinute) / kMsPerMinute;
  if (!minutes_.empty() &&
      minute <= minutes_.back().minute - rules.LongestWindow()) {
    return;  // older than every window: no rule can use it
  }

  // Record the event in its minute.
  bool login = action == "login";
  {
    Minute& m = Slot(minute, rules);
    m.first = m.count == 0 ? time : std::min(m.first, time);
    m.last = m.count == 0 ? time : std::max(m.last, time);
    ++m.count;
    m.logins += login ? 1 : 0;
    Bump(m.collections, collection);
    Bump(m.actions, action);
  }

  // The windows holding this event end at its minute or later, up to the
  // newest minute; a late event can take any of them over. A window's sum
  // rises only at minutes with events, so those are the ends to try, the
  // oldest first. In order, that is just the window ending at `minute`.
  auto sum = [&](int64_t end, int64_t window, bool logins_only) {
    int64_t total = 0;
    for (const Minute& m : minutes_) {
      if (m.minute > end - window && m.minute <= end) {
        total += logins_only ? m.logins : m.count;
      }
    }
    return total;
  };
  auto check = [&](std::string_view rule, int64_t window, int64_t fire_at,
                   int64_t threshold, bool logins_only, int64_t& until) {
    auto it = std::lower_bound(
        minutes_.begin(), minutes_.end(), std::max(minute, until),
        [](const Minute& m, int64_t v) { return m.minute < v; });
    for (; it != minutes_.end() && it->minute < minute + window; ++it) {
      int64_t n = sum(it->minute, window, logins_only);
      if (n >= fire_at) {
        fired.push_back(MakeAlert(rule, ip, it->minute, window, n, threshold));
        until = it->minute + rules.cooldown_min;
        return;
      }
    }
  };
  check("suspicious_ip", rules.suspicious_window_min,
        rules.suspicious_threshold + 1, rules.suspicious_threshold,
        /*logins_only=*/false, suspicious_until_);
  if (login) {
    check("login_burst", rules.login_window_min, rules.login_threshold,
          rules.login_threshold, /*logins_only=*/true, login_until_);
  }
}

Alert IpActivity::MakeAlert(std::string_view rule, std::string_view ip,
                            int64_t minute, int64_t window_min, int64_t count,
                            int64_t threshold) const {
  Alert a;
  a.rule = rule;
  a.ip = ip;
  a.window_start = (minute - window_min + 1) * kMsPerMinute;
  a.window_end = (minute + 1) * kMsPerMinute;
  a.count = count;
  a.threshold = threshold;
  a.id = fmt::format("{}:{}:{}", rule, ip, FormatRfc3339Ms(a.window_start));

  // What the window held: distinct collections, the busiest ones, and when.
  std::map<std::string, int64_t> collections, actions;
  a.first_seen = INT64_MAX;
  a.last_seen = INT64_MIN;
  for (const Minute& m : minutes_) {
    if (m.minute <= minute - window_min || m.minute > minute) {
      continue;
    }
    for (const auto& [name, c] : m.collections) {
      collections[name] += c;
    }
    for (const auto& [name, c] : m.actions) {
      actions[name] += c;
    }
    a.first_seen = std::min(a.first_seen, m.first);
    a.last_seen = std::max(a.last_seen, m.last);
    a.detail_complete = a.detail_complete && m.detail;
  }
  a.collections = static_cast<int64_t>(collections.size());
  a.top_collections = Top(collections);
  a.top_actions = Top(actions);
  return a;
}

bool IpActivity::Expired(int64_t now_minute, const AlertRules& rules) const {
  int64_t newest = minutes_.empty() ? INT64_MIN / 2 : minutes_.back().minute;
  int64_t horizon = newest + rules.LongestWindow() + rules.cooldown_min;
  return horizon < now_minute && suspicious_until_ < now_minute &&
         login_until_ < now_minute;
}

std::string IpActivity::Serialize() const {
  // Minutes ascend, so each is stored as the gap from the previous one, and
  // times as offsets into their minute: small varints.
  std::string out;
  out.push_back(static_cast<char>(kStateVersion));
  PutI64(out, suspicious_until_);
  PutI64(out, login_until_);
  PutVarint(out, minutes_.size());
  int64_t previous = 0;
  for (const Minute& m : minutes_) {
    int64_t start = m.minute * kMsPerMinute;
    PutI64(out, m.minute - previous);
    PutI64(out, m.count);
    PutI64(out, m.logins);
    PutI64(out, m.first - start);
    PutI64(out, m.last - start);
    previous = m.minute;
  }
  return out;
}

Result<IpActivity> IpActivity::Deserialize(std::string_view bytes) {
  if (bytes.empty() || static_cast<uint8_t>(bytes[0]) != kStateVersion) {
    return Status::DataLoss("alert state: unknown version");
  }
  Reader r(bytes.substr(1));
  IpActivity a;
  uint64_t n = 0;
  if (!r.I64(a.suspicious_until_) || !r.I64(a.login_until_) || !r.Varint(n)) {
    return Status::DataLoss("alert state: truncated header");
  }
  int64_t previous = 0;
  for (uint64_t i = 0; i < n; ++i) {
    Minute m;
    int64_t gap = 0;
    if (!r.I64(gap) || !r.I64(m.count) || !r.I64(m.logins) || !r.I64(m.first) ||
        !r.I64(m.last)) {
      return Status::DataLoss("alert state: truncated minute");
    }
    if ((i > 0 && gap <= 0) || m.count < 0 || m.logins < 0 ||
        m.logins > m.count || m.first < 0 || m.last < m.first ||
        m.last >= kMsPerMinute) {
      return Status::DataLoss(
          "alert state: a minute is out of order or "
          "out of range");
    }
    m.minute = previous + gap;
    m.first += m.minute * kMsPerMinute;
    m.last += m.minute * kMsPerMinute;
    m.detail = false;
    previous = m.minute;
    a.minutes_.push_back(std::move(m));
  }
  if (!r.done()) {
    return Status::DataLoss("alert state: trailing bytes");
  }
  return a;
}

void AlertEngine::Observe(std::string_view ip, EventTimeMs time,
                          std::string_view collection, std::string_view action,
                          std::vector<Alert>& fired) {
  if (rules_->Allowed(ip) || time > now_ + kMsPerHour) {
    return;
  }
  newest_ = std::max(newest_, time);
  auto it = ips_.find(std::string(ip));
  if (it == ips_.end()) {
    it = ips_.emplace(std::string(ip), IpActivity()).first;
  }
  it->second.Observe(ip, time, collection, action, *rules_, fired);
  if (changed_.insert(it->first).second) {
    // Hex doubles the ~12 bytes of each minute a flush will persist.
    change_bytes_ += 2 * (it->first.size() + 24 + 12 * it->second.minutes());
  }
}

void AlertEngine::TakeChanges(std::vector<Change>& out) {
  // Changed IPs carry their new state.
  for (const std::string& ip : changed_) {
    auto it = ips_.find(ip);
    if (it != ips_.end()) {
      out.emplace_back(ip, it->second.Serialize());
    }
  }
  changed_.clear();
  change_bytes_ = 0;

  // IPs quiet past every window and cooldown are dropped. "Now" is event
  // time (a backfill of old history keeps its windows), capped by the
  // clock.
  int64_t now_minute =
      std::min(newest_, now_ + 5 * kMsPerMinute) / kMsPerMinute;
  for (auto it = ips_.begin(); it != ips_.end();) {
    if (it->second.Expired(now_minute, *rules_)) {
      out.emplace_back(it->first, std::nullopt);
      it = ips_.erase(it);
    } else {
      ++it;
    }
  }
}

Status AlertEngine::Load(std::string_view ip, std::string_view bytes) {
  PULSE_ASSIGN_OR_RETURN(IpActivity a, IpActivity::Deserialize(bytes));
  ips_.insert_or_assign(std::string(ip), std::move(a));
  return Status::Ok();
}

}  // namespace pulse::aggregator
