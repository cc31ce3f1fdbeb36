#include "common/shutdown.h"

#include <signal.h>
#include <unistd.h>

#include <thread>

namespace pulse {

namespace {

int g_pipe[2] = {-1, -1};
std::atomic<int> g_signal_count{0};

void OnSignal(int signo) {
  if (g_signal_count.fetch_add(1) >= 1) {
    _exit(130);
  }
  char c = static_cast<char>(signo);
  ssize_t n = write(g_pipe[1], &c, 1);
  (void)n;
}

}  // namespace

StopSignal& StopSignal::Get() {
  static auto* s = new StopSignal();
  return *s;
}

void StopSignal::InstallHandlers() {
  if (pipe(g_pipe) != 0) {
    return;
  }
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // The handler only writes a byte; this thread turns it into a request,
  // where taking locks is allowed.
  std::thread([this] {
    char c = 0;
    while (read(g_pipe[0], &c, 1) == 1) {
      Request(c == SIGINT ? "SIGINT" : "SIGTERM");
    }
  }).detach();
}

void StopSignal::Request(const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!requested_.load()) {
      reason_ = reason;
    }
    requested_.store(true);
  }
  cv_.notify_all();
}

std::string StopSignal::reason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reason_;
}

bool StopSignal::WaitFor(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return requested_.load(); });
}

void StopSignal::Reset() {
  std::lock_guard<std::mutex> lock(mu_);
  requested_.store(false);
  reason_.clear();
  g_signal_count.store(0);
}

}  // namespace pulse
