#include "generate/token_bucket.h"

#include <algorithm>
#include <cmath>

namespace pulse::generate {

TokenBucket::TokenBucket(double rate, double capacity, Clock::time_point now)
    : rate_(rate), capacity_(capacity), tokens_(capacity), last_(now) {}

void TokenBucket::Refill(Clock::time_point now) {
  // A clock reading older than the last one adds nothing.
  if (now <= last_) {
    return;
  }
  std::chrono::duration<double> elapsed = now - last_;
  tokens_ = std::min(capacity_, tokens_ + elapsed.count() * rate_);
  last_ = now;
}

bool TokenBucket::TryTake(double n, Clock::time_point now) {
  Refill(now);
  if (tokens_ < n) {
    return false;
  }
  tokens_ -= n;
  return true;
}

TokenBucket::Clock::time_point TokenBucket::ReadyAt(double n,
                                                    Clock::time_point now) {
  Refill(now);
  if (tokens_ >= n) {
    return now;
  }

  // Round up so that waking at the returned time finds the tokens there.
  double seconds = (n - tokens_) / rate_;
  auto wait = std::chrono::ceil<Clock::duration>(
      std::chrono::duration<double>(seconds));
  return now + wait;
}

}  // namespace pulse::generate
