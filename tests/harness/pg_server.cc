#include "tests/harness/pg_server.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "tests/harness/subprocess.h"

namespace pulse::testing {

namespace {

constexpr const char* kBin = "/usr/lib/postgresql/15/bin";

bool RunningAsRoot() { return geteuid() == 0; }

}  // namespace

std::string PgServer::AsServerUser(const std::string& command) const {
  if (!RunningAsRoot()) {
    return command;
  }
  return "runuser -u postgres -- " + command;
}

bool PgServer::Run(const std::string& command) const {
  return std::system(command.c_str()) == 0;
}

std::unique_ptr<PgServer> PgServer::Start(const Options& o,
                                          std::string& error) {
  std::unique_ptr<PgServer> s(new PgServer());
  s->root_ = MakeTempDir("pulse-pg");
  s->data_ = s->root_ + "/data";
  s->port_ = FreePort();
  if (RunningAsRoot()) {
    s->Run("chown postgres:postgres " + s->root_);
  }

  // Watchdog: a shell that waits for EOF on its stdin (our pipe) and then
  // stops the server and removes the folder. We hold the only write end;
  // when this process dies for any reason, the watchdog cleans up.
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    error = "pipe2 failed";
    return nullptr;
  }
  std::string cleanup =
      fmt::format("read _; {} >/dev/null 2>&1; rm -rf {}",
                  s->AsServerUser(fmt::format(
                      "{}/pg_ctl -D {} -m immediate stop", kBin, s->data_)),
                  s->root_);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[0], 0);
    setsid();
    execl("/bin/sh", "sh", "-c", cleanup.c_str(), nullptr);
    _exit(127);
  }
  close(fds[0]);
  s->watchdog_fd_ = fds[1];

  // initdb with a password file so TCP logins need the password.
  std::string pwfile = s->root_ + "/pwfile";
  std::ofstream(pwfile) << kPassword << "\n";
  if (RunningAsRoot()) {
    s->Run("chown postgres:postgres " + pwfile);
  }
  std::string initdb = s->AsServerUser(fmt::format(
      "{}/initdb -D {} -U {} --pwfile={} --auth-local=trust "
      "--auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >{}/initdb.log "
      "2>&1",
      kBin, s->data_, kSuperuser, pwfile, s->root_));
  if (!s->Run(initdb)) {
    error = "initdb failed: " + ReadFile(s->root_ + "/initdb.log");
    return nullptr;
  }

  // Settings: logical replication, room for slots, fast and loopback-only.
  std::ofstream conf(s->data_ + "/postgresql.conf", std::ios::app);
  conf << "listen_addresses = '127.0.0.1'\n"
       << "port = " << s->port_ << "\n"
       << "unix_socket_directories = '" << s->root_ << "'\n"
       << "wal_level = " << o.wal_level << "\n"
       << "max_replication_slots = 20\n"
       << "max_wal_senders = 20\n"
       << "max_connections = 200\n"
       << "fsync = off\n"
       << "full_page_writes = off\n"
       << "shared_buffers = 128MB\n"
       << "max_wal_size = 2GB\n"
       << "log_min_messages = warning\n";
  for (const std::string& line : o.settings) {
    conf << line << "\n";
  }
  conf.close();

  if (!s->StartAgain()) {
    error = "postgres did not start: " + ReadFile(s->root_ + "/server.log");
    return nullptr;
  }
  return s;
}

PgServer::~PgServer() {
  Stop("immediate");
  RemoveTree(root_);
  if (watchdog_fd_ >= 0) {
    close(watchdog_fd_);
  }
}

bool PgServer::StartAgain() {
  std::string log = root_ + "/server.log";
  return Run(
      AsServerUser(fmt::format("{}/pg_ctl -D {} -l {} -w -t 60 start "
                               ">/dev/null 2>&1",
                               kBin, data_, log)));
}

bool PgServer::Stop(const std::string& mode) {
  return Run(AsServerUser(
      fmt::format("{}/pg_ctl -D {} -m {} -w -t 60 stop >/dev/null 2>&1", kBin,
                  data_, mode)));
}

bool PgServer::Restart(const std::string& mode) {
  Stop(mode);
  return StartAgain();
}

void PgServer::SetSetting(const std::string& line) {
  std::ofstream(data_ + "/postgresql.conf", std::ios::app) << line << "\n";
}

std::string PgServer::Url(const std::string& db) const {
  return UrlAs(kSuperuser, kPassword, db);
}

std::string PgServer::UrlAs(const std::string& user,
                            const std::string& password,
                            const std::string& db) const {
  return fmt::format("postgresql://{}:{}@127.0.0.1:{}/{}", user, password,
                     port_, db);
}

std::string PgServer::CreateDatabase(const std::string& prefix) {
  std::string name = fmt::format("{}_{}_{}", prefix, getpid(), next_db_++);
  PgConn c = Connect(Url());
  Status st = c.Run("CREATE DATABASE " + c.QuoteIdent(name));
  EXPECT_TRUE(st.ok()) << st.ToString();
  return Url(name);
}

PgConn PgServer::Connect(const std::string& url) const {
  auto c = PgConn::Connect(url, "pulse-test");
  if (!c.ok()) {
    ADD_FAILURE() << c.status().ToString();
    return PgConn();
  }
  return std::move(c).value();
}

PgServer& SharedPgServer() {
  // A static owner: its destructor stops the server at exit.
  static std::unique_ptr<PgServer> server = [] {
    std::string error;
    auto s = PgServer::Start({}, error);
    if (!s) {
      std::fprintf(stderr, "cannot start PostgreSQL: %s\n", error.c_str());
      std::abort();
    }
    return s;
  }();
  return *server;
}

}  // namespace pulse::testing
