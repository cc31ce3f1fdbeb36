#include "aggregator/alerts.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/json_writer.h"

namespace pulse::aggregator {

namespace {

constexpr size_t kTop = 5;

// The largest few of per-name totals, ties by name.
std::vector<std::pair<std::string, int64_t>> Top(
    std::vector<std::pair<std::string_view, int64_t>>& totals) {
  size_t n = std::min(totals.size(), kTop);
  std::partial_sort(totals.begin(), totals.begin() + n, totals.end(),
                    [](const auto& a, const auto& b) {
                      return a.second != b.second ? a.second > b.second
                                                  : a.first < b.first;
                    });
  return {totals.begin(), totals.begin() + n};
}

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

void IpActivity::NameCounts::Bump(uint32_t id) {
  // A found name trades places with the one before it, so a busy
  // minute's frequent names drift to the front of the scan.
  for (uint32_t i = 0; i < size(); ++i) {
    NameCount& n = At(i);
    if (n.id == id) {
      ++n.count;
      if (i > 0) {
        std::swap(n, At(i - 1));
      }
      return;
    }
  }
  if (inline_size_ < inline_.size()) {
    inline_[inline_size_++] = {id, 1};
  } else {
    more_.push_back({id, 1});
  }
}

IpActivity::Minute& IpActivity::Slot(int64_t minute, const AlertRules& rules) {
  // Out-of-order events land in place.
  auto it = FindMinute(minute);
  if (it == minutes_.end() || it->minute != minute) {
    it = minutes_.emplace(it);
    it->minute = minute;
  }
  Minute* slot = &*it;

  // Forget minutes no window can reach any more.
  int64_t oldest = minutes_.back().minute - rules.LongestWindow() + 1;
  while (!minutes_.empty() && minutes_.front().minute < oldest &&
         &minutes_.front() != slot) {
    held_count_ -= minutes_.front().count;
    held_logins_ -= minutes_.front().logins;
    trimmed_.push_back(minutes_.front().minute);
    minutes_.pop_front();
  }
  return *slot;
}

std::deque<IpActivity::Minute>::iterator IpActivity::FindMinute(
    int64_t minute) {
  // Usually the newest minute or past it; a deque's binary search is slow.
  if (minutes_.empty() || minutes_.back().minute < minute) {
    return minutes_.end();
  }
  if (minutes_.back().minute == minute) {
    return minutes_.end() - 1;
  }
  return std::lower_bound(
      minutes_.begin(), minutes_.end(), minute,
      [](const Minute& m, int64_t v) { return m.minute < v; });
}

int64_t IpActivity::WindowSum(int64_t end, int64_t window,
                              bool logins_only) const {
  // A window reaching from the newest minute over all held ones sums
  // them all (with the default rules, any in-order event's window).
  if (end >= minutes_.back().minute && minutes_.front().minute > end - window) {
    return logins_only ? held_logins_ : held_count_;
  }
  int64_t total = 0;
  for (auto it = minutes_.rbegin(); it != minutes_.rend(); ++it) {
    if (it->minute <= end - window) {
      break;
    }
    if (it->minute <= end) {
      total += logins_only ? it->logins : it->count;
    }
  }
  return total;
}

void IpActivity::Observe(std::string_view ip, EventTimeMs time,
                         uint32_t collection, uint32_t action, bool login,
                         const AlertRules& rules, const StringPool& names,
                         std::vector<Alert>& fired) {
  int64_t minute = FloorTo(time, kMsPerMinute) / kMsPerMinute;
  if (!minutes_.empty() &&
      minute <= minutes_.back().minute - rules.LongestWindow()) {
    return;  // older than every window: no rule can use it
  }

  // Record the event in its minute.
  {
    Minute& m = Slot(minute, rules);
    m.first = m.count == 0 ? time : std::min(m.first, time);
    m.last = m.count == 0 ? time : std::max(m.last, time);
    ++m.count;
    m.logins += login ? 1 : 0;
    m.dirty = true;
    dirty_from_ = std::min(dirty_from_, minute);
    m.names.Bump(collection);
    m.names.Bump(action | kActionBit);
  }
  ++held_count_;
  held_logins_ += login ? 1 : 0;

  // The windows holding this event end at its minute or later, up to the
  // newest minute; a late event can take any of them over. A window's sum
  // rises only at minutes with events, so those are the ends to try, the
  // oldest first. In order, that is just the window ending at `minute`.
  auto check = [&](std::string_view rule, int64_t window, int64_t fire_at,
                   int64_t threshold, bool logins_only, int64_t& until) {
    // No window can hold more than all minutes held: most IPs stop here.
    if ((logins_only ? held_logins_ : held_count_) < fire_at) {
      return;
    }
    auto it = FindMinute(std::max(minute, until));
    for (; it != minutes_.end() && it->minute < minute + window; ++it) {
      int64_t n = WindowSum(it->minute, window, logins_only);
      if (n >= fire_at) {
        fired.push_back(
            MakeAlert(rule, ip, it->minute, window, n, threshold, names));
        until = it->minute + rules.cooldown_min;
        cooldowns_dirty_ = true;
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
                            int64_t threshold, const StringPool& names) const {
  Alert a;
  a.rule = rule;
  a.ip = ip;
  a.window_start = (minute - window_min + 1) * kMsPerMinute;
  a.window_end = (minute + 1) * kMsPerMinute;
  a.count = count;
  a.threshold = threshold;
  a.id = fmt::format("{}:{}:{}", rule, ip, FormatRfc3339Ms(a.window_start));

  // What the window held: distinct collections, the busiest ones, and when.
  // Totals are summed per name id (slot 2 * id for a collection, + 1 for
  // an action), remembering which slots were touched.
  std::vector<int64_t> sums(2 * names.size());
  std::vector<size_t> touched;
  a.first_seen = INT64_MAX;
  a.last_seen = INT64_MIN;
  for (const Minute& m : minutes_) {
    if (m.minute <= minute - window_min || m.minute > minute) {
      continue;
    }
    m.names.ForEach([&](const NameCount& n) {
      size_t slot =
          2 * size_t{n.id & ~kActionBit} + ((n.id & kActionBit) != 0 ? 1 : 0);
      touched.push_back(slot);
      sums[slot] += n.count;
    });
    a.first_seen = std::min(a.first_seen, m.first);
    a.last_seen = std::max(a.last_seen, m.last);
    a.detail_complete = a.detail_complete && m.detail;
  }
  std::vector<std::pair<std::string_view, int64_t>> collections, actions;
  for (size_t slot : touched) {
    if (sums[slot] != 0) {
      auto& totals = (slot & 1) != 0 ? actions : collections;
      totals.emplace_back(names.Get(static_cast<uint32_t>(slot / 2)),
                          sums[slot]);
      sums[slot] = 0;  // taken
    }
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

void IpActivity::RestoreMinute(const MinuteCounts& c, const AlertRules& rules) {
  Minute& m = Slot(c.minute, rules);
  held_count_ += c.count - m.count;
  held_logins_ += c.logins - m.logins;
  m.count = c.count;
  m.logins = c.logins;
  m.first = c.first;
  m.last = c.last;
  m.detail = false;
  m.dirty = false;
  trimmed_.clear();  // what restoring trims was never persisted as kept
}

void IpActivity::RestoreCooldowns(int64_t suspicious_until,
                                  int64_t login_until) {
  suspicious_until_ = std::max(suspicious_until_, suspicious_until);
  login_until_ = std::max(login_until_, login_until);
}

void IpActivity::CollectChanges(IpChange& out) {
  // Only minutes from the oldest one written can be dirty: usually the
  // newest one or two of the hour held.
  for (auto it = FindMinute(dirty_from_); it != minutes_.end(); ++it) {
    if (it->dirty) {
      out.minutes.push_back(
          {it->minute, it->count, it->logins, it->first, it->last});
      it->dirty = false;
    }
  }
  dirty_from_ = INT64_MAX;
  out.dropped = std::move(trimmed_);
  trimmed_.clear();
  if (cooldowns_dirty_) {
    out.cooldowns.emplace(suspicious_until_, login_until_);
    cooldowns_dirty_ = false;
  }
}

void AlertEngine::Observe(std::string_view ip, EventTimeMs time,
                          std::string_view collection, std::string_view action,
                          std::vector<Alert>& fired) {
  if (time > now_ + kMsPerHour) {
    return;
  }
  auto it = Entry(ip);
  if (it->second.allowed) {
    return;
  }
  newest_ = std::max(newest_, time);
  it->second.Observe(ip, time, names_.Intern(collection), names_.Intern(action),
                     action == "login", *rules_, names_, fired);
  if (!it->second.listed) {
    it->second.listed = true;
    changed_.push_back(&*it);
  }
}

void AlertEngine::TakeChanges(std::vector<IpChange>& out) {
  // Changed IPs report their changed minutes.
  for (Map::value_type* entry : changed_) {
    IpChange c;
    c.ip = entry->first;
    entry->second.CollectChanges(c);
    entry->second.listed = false;
    out.push_back(std::move(c));
  }
  changed_.clear();

  // IPs quiet past every window and cooldown are dropped. "Now" is event
  // time (a backfill of old history keeps its windows), capped by the
  // clock. Nothing expires within a minute, so a flush in the same minute
  // as the last scan skips it (flushes come every few seconds or faster).
  int64_t now_minute =
      std::min(newest_, now_ + 5 * kMsPerMinute) / kMsPerMinute;
  if (now_minute == scanned_minute_) {
    return;
  }
  scanned_minute_ = now_minute;
  for (auto it = ips_.begin(); it != ips_.end();) {
    if (it->second.Expired(now_minute, *rules_)) {
      // An allowed IP's entry only remembers the check, unless it holds
      // pieces restored from before the IP was allowed.
      if (!it->second.allowed || it->second.restored) {
        IpChange c;
        c.ip = it->first;
        c.expired = true;
        out.push_back(std::move(c));
      }
      it = ips_.erase(it);
    } else {
      ++it;
    }
  }
  if (names_.size() > compact_at_) {
    CompactNames();
  }
}

void AlertEngine::CompactNames() {
  StringPool kept;
  for (auto& [ip, activity] : ips_) {
    activity.RemapNames(
        [&](uint32_t id) { return kept.Intern(names_.Get(id)); });
  }
  names_ = std::move(kept);
  compact_at_ = std::max(kMinNamesToCompact, 2 * names_.size());
}

AlertEngine::Map::iterator AlertEngine::Entry(std::string_view ip) {
  auto it = ips_.find(ip);
  if (it == ips_.end()) {
    it = ips_.emplace(std::string(ip), IpActivity()).first;
    it->second.allowed = rules_->Allowed(ip);
  }
  return it;
}

void AlertEngine::RestoreMinute(std::string_view ip, const MinuteCounts& m) {
  auto it = Entry(ip);
  it->second.restored = true;
  it->second.RestoreMinute(m, *rules_);
  newest_ = std::max(newest_, m.last);
}

void AlertEngine::RestoreCooldowns(std::string_view ip,
                                   int64_t suspicious_until,
                                   int64_t login_until) {
  auto it = Entry(ip);
  it->second.restored = true;
  it->second.RestoreCooldowns(suspicious_until, login_until);
}

}  // namespace pulse::aggregator
