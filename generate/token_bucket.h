// TokenBucket: paces the live generator at a rate without drift.
//
// Tokens accrue at `rate` per second of the clock given to each call, up
// to `capacity`; a transaction of n rows takes n tokens. Because refills
// are computed from clock readings, not from how long sleeps lasted, late
// wake-ups are made up for (up to `capacity` rows at once) and the long-run
// rate equals `rate` whatever the sleeping precision. After a stall longer
// than capacity / rate, the excess is dropped rather than sent in a burst.
//
// The clock is a parameter so tests can drive it. One thread at a time.

#ifndef PULSE_GENERATE_TOKEN_BUCKET_H_
#define PULSE_GENERATE_TOKEN_BUCKET_H_

#include <chrono>

namespace pulse::generate {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts full. Needs rate > 0 and capacity >= the largest take.
  TokenBucket(double rate, double capacity, Clock::time_point now);

  // Takes n tokens if there are that many at `now`.
  bool TryTake(double n, Clock::time_point now);

  // The earliest time at which n tokens are there (`now` if already).
  Clock::time_point ReadyAt(double n, Clock::time_point now);

  double rate() const { return rate_; }

 private:
  void Refill(Clock::time_point now);

  double rate_;
  double capacity_;
  double tokens_;
  Clock::time_point last_;
};

}  // namespace pulse::generate

#endif  // PULSE_GENERATE_TOKEN_BUCKET_H_
