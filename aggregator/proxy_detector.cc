#include "aggregator/proxy_detector.h"

#include "aggregator/alerts.h"

namespace pulse::aggregator {

std::optional<ProxyDetector::Verdict> ProxyDetector::Evaluate(
    std::chrono::steady_clock::time_point now) {
  if (started_ == std::chrono::steady_clock::time_point{}) {
    started_ = now;
  }
  if (now - started_ < window_) {
    return std::nullopt;
  }

  // Judge the window just ended, then start a new one.
  Verdict v{"", 0, total_};
  int64_t top = 0;
  for (const auto& [ip, n] : counts_) {
    if (n > top) {
      top = n;
      v.ip = ip;
    }
  }
  v.share_percent = total_ > 0 ? top * 100 / total_ : 0;
  suspected_ = total_ >= min_events_ && v.share_percent >= share_percent_ &&
               IsPrivateAddress(v.ip);
  counts_.clear();
  total_ = 0;
  started_ = now;
  return v;
}

}  // namespace pulse::aggregator
