// ProxyDetector: notices when most traffic comes from one private address,
// the sign that Directus sits behind a proxy it does not trust (every row
// then carries the proxy's address, and per-IP rollups and alerts are
// meaningless).
//
// Counts events per IP over windows of wall-clock time; at the end of a
// window with enough traffic it reports the busiest private address if its
// share passes the threshold. Single-threaded.

#ifndef PULSE_AGGREGATOR_PROXY_DETECTOR_H_
#define PULSE_AGGREGATOR_PROXY_DETECTOR_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "aggregator/string_map.h"

namespace pulse::aggregator {

class ProxyDetector {
 public:
  struct Verdict {
    std::string ip;
    int64_t share_percent;
    int64_t events;
  };

  ProxyDetector(int64_t share_percent, int64_t min_events = 1000,
                std::chrono::seconds window = std::chrono::seconds(60))
      : share_percent_(share_percent),
        min_events_(min_events),
        window_(window) {}

  void Observe(std::string_view ip) {
    auto it = counts_.find(ip);
    if (it == counts_.end()) {
      it = counts_.emplace(ip, 0).first;
    }
    ++it->second;
    ++total_;
  }

  // At the end of a window: the verdict for it (nullopt while the window
  // runs). `suspected` holds the last verdict's answer.
  std::optional<Verdict> Evaluate(std::chrono::steady_clock::time_point now);
  bool suspected() const { return suspected_; }

 private:
  int64_t share_percent_;
  int64_t min_events_;
  std::chrono::seconds window_;
  std::chrono::steady_clock::time_point started_{};
  StringMap<int64_t> counts_;
  int64_t total_ = 0;
  bool suspected_ = false;
};

}  // namespace pulse::aggregator

#endif  // PULSE_AGGREGATOR_PROXY_DETECTOR_H_
