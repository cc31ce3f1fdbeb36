#include "tests/harness/subprocess.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace pulse::testing {

namespace {

std::optional<int> DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return std::nullopt;
}

}  // namespace

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string MakeTempDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  char* dir = mkdtemp(buf.data());
  return dir ? dir : "";
}

void RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

std::string PulseBinary() {
  const char* p = std::getenv("PULSE_BINARY");
  return p ? p : "pulse";
}

Subprocess::Subprocess(Options o) {
  std::string dir = o.log_dir.empty() ? MakeTempDir("pulse-proc") : o.log_dir;
  static int counter = 0;
  std::string stem = dir + "/proc" + std::to_string(getpid()) + "-" +
                     std::to_string(counter++);
  out_path_ = stem + ".out";
  err_path_ = stem + ".err";

  // Build argv and envp before fork: the child only calls async-safe code.
  std::vector<std::string> env_store;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    std::string key = kv.substr(0, kv.find('='));
    if (o.env.count(key) == 0) {
      env_store.push_back(kv);
    }
  }
  for (const auto& [k, v] : o.env) {
    env_store.push_back(k + "=" + v);
  }
  std::vector<char*> envp;
  for (auto& s : env_store) {
    envp.push_back(s.data());
  }
  envp.push_back(nullptr);
  std::vector<char*> argv;
  for (auto& a : o.argv) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);

  int out = open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int err = open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
      _exit(127);
    }
    setpgid(0, 0);
    dup2(out, 1);
    dup2(err, 2);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(out);
  close(err);
}

Subprocess::~Subprocess() {
  if (running()) {
    Signal(SIGKILL);
    Wait(std::chrono::seconds(10));
  }
}

bool Subprocess::running() {
  if (pid_ <= 0 || exit_code_.has_value()) {
    return false;
  }
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = DecodeWaitStatus(status);
    return false;
  }
  return true;
}

void Subprocess::Signal(int signo) {
  if (pid_ > 0 && !exit_code_.has_value()) {
    kill(pid_, signo);
  }
}

std::optional<int> Subprocess::Wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return exit_code_;
}

int Subprocess::Stop(std::chrono::milliseconds grace) {
  Signal(SIGTERM);
  if (auto code = Wait(grace)) {
    return *code;
  }
  Signal(SIGKILL);
  return Wait(std::chrono::seconds(10)).value_or(-1);
}

std::string Subprocess::Stdout() const { return ReadFile(out_path_); }
std::string Subprocess::Stderr() const { return ReadFile(err_path_); }

std::optional<std::string> Subprocess::WaitForStdoutLine(
    const std::string& prefix, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::istringstream in(Stdout());
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(prefix, 0) == 0) {
        return line;
      }
    }
    if (!running()) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
}

bool Subprocess::WaitForStderr(const std::string& needle,
                               std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (Stderr().find(needle) != std::string::npos) {
      return true;
    }
    if (!running()) {
      return Stderr().find(needle) != std::string::npos;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace pulse::testing
