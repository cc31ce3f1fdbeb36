// StopSignal: how a process learns it should shut down.
//
// SIGTERM and SIGINT request a clean stop: components finish the unit of
// work in hand, commit what is durable, and return. A second signal exits at
// once (status 130). Components also request a stop themselves when they hit
// an error the process cannot survive, so `pulse run` stops as a whole.
//
// Thread-safe. Waiters wake as soon as a stop is requested.

#ifndef PULSE_COMMON_SHUTDOWN_H_
#define PULSE_COMMON_SHUTDOWN_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>

namespace pulse {

class StopSignal {
 public:
  static StopSignal& Get();

  // Routes SIGTERM and SIGINT here. Call once, early in main().
  void InstallHandlers();

  void Request(const std::string& reason);
  bool requested() const { return requested_.load(); }
  std::string reason() const;

  // Sleeps up to `timeout`; returns true if a stop was requested.
  bool WaitFor(std::chrono::milliseconds timeout);

  // For tests: forget a previous request.
  void Reset();

 private:
  std::atomic<bool> requested_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string reason_;
};

}  // namespace pulse

#endif  // PULSE_COMMON_SHUTDOWN_H_
