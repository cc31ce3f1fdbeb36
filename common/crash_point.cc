#include "common/crash_point.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>

#include "common/log.h"

namespace pulse {
namespace {

// PULSE_CRASH_AT, read once: the point's name and the hit that kills.
struct Armed {
  std::string point;
  long hit = 1;
  std::atomic<long> hits{0};

  Armed() {
    const char* env = std::getenv("PULSE_CRASH_AT");
    if (env == nullptr) {
      return;
    }
    std::string spec(env);
    size_t colon = spec.rfind(':');
    if (colon != std::string::npos) {
      hit = std::max(1L, std::strtol(spec.c_str() + colon + 1, nullptr, 10));
      spec.resize(colon);
    }
    point = spec;
  }
};

}  // namespace

void CrashPoint(std::string_view point) {
  static Armed armed;
  if (armed.point.empty() || armed.point != point) {
    return;
  }
  long n = armed.hits.fetch_add(1, std::memory_order_relaxed) + 1;
  if (n != armed.hit) {
    return;
  }
  Logger("crash").Warn("crash_point", {{"point", point}, {"hit", n}});
  kill(getpid(), SIGKILL);
  pause();  // SIGKILL cannot be caught: this never returns
}

}  // namespace pulse
