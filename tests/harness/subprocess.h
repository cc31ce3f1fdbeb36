// Subprocess: a child process a test starts, watches and always stops.
//
// The child's stdout and stderr go to files in a temp folder so a failing
// test can print them. The destructor kills the child (SIGKILL) if it still
// runs. A child also dies with the test process (PR_SET_PDEATHSIG), so a
// crashed test leaves nothing behind.

#ifndef PULSE_TESTS_HARNESS_SUBPROCESS_H_
#define PULSE_TESTS_HARNESS_SUBPROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pulse::testing {

class Subprocess {
 public:
  struct Options {
    std::vector<std::string> argv;
    std::map<std::string, std::string> env;  // added to the test's own
    std::string log_dir;                     // empty: a fresh temp folder
  };

  explicit Subprocess(Options o);
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();

  void Signal(int signo);
  // Waits for exit; returns the exit code (128+signal if killed), or nullopt
  // on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  // SIGTERM, wait, then SIGKILL. Returns the exit code.
  int Stop(std::chrono::milliseconds grace = std::chrono::seconds(20));

  std::string Stdout() const;
  std::string Stderr() const;
  // Waits until stdout holds a line starting with `prefix`; returns it.
  std::optional<std::string> WaitForStdoutLine(
      const std::string& prefix, std::chrono::milliseconds timeout);
  // Waits until stderr contains `needle`.
  bool WaitForStderr(const std::string& needle,
                     std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string out_path_;
  std::string err_path_;
};

// Reads a whole file; empty if missing.
std::string ReadFile(const std::string& path);

// A port on 127.0.0.1 that was free a moment ago.
int FreePort();

// A fresh folder under the test temp dir; removed by RemoveTree.
std::string MakeTempDir(const std::string& prefix);
void RemoveTree(const std::string& path);

// Path of the built `pulse` binary (PULSE_BINARY, set by CTest).
std::string PulseBinary();

}  // namespace pulse::testing

#endif  // PULSE_TESTS_HARNESS_SUBPROCESS_H_
