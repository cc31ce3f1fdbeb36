// WaitFor: polls a condition until it holds or a deadline passes. Tests use
// it only where the event lives in another process and no hook exists.

#ifndef PULSE_TESTS_HARNESS_WAIT_H_
#define PULSE_TESTS_HARNESS_WAIT_H_

#include <chrono>
#include <functional>
#include <thread>

namespace pulse::testing {

inline bool WaitFor(
    const std::function<bool()>& condition, std::chrono::milliseconds timeout,
    std::chrono::milliseconds every = std::chrono::milliseconds(50)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(every);
  }
  return true;
}

}  // namespace pulse::testing

#endif  // PULSE_TESTS_HARNESS_WAIT_H_
