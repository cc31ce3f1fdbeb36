// PgServer: a throwaway PostgreSQL 15 for one test binary.
//
// initdb into a temp folder, a random free port on 127.0.0.1, wal_level
// logical, replication slots and senders to spare; the hll extension is
// installed system-wide (Debian postgresql-15-hll) so CREATE EXTENSION works.
// Password authentication (scram) over TCP, so tests can try wrong
// passwords. When the test process runs as root, the server runs as the
// `postgres` OS user.
//
// Teardown is guaranteed: the destructor stops the server and deletes the
// folder, and a watchdog process does the same if the test process dies
// without running destructors.

#ifndef PULSE_TESTS_HARNESS_PG_SERVER_H_
#define PULSE_TESTS_HARNESS_PG_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "common/pg.h"

namespace pulse::testing {

class PgServer {
 public:
  struct Options {
    std::string wal_level = "logical";
    std::vector<std::string> settings;  // extra postgresql.conf lines
  };

  static constexpr const char* kSuperuser = "pulse_test";
  static constexpr const char* kPassword = "pulse_test_pw";

  // Starts a server; on failure returns null and sets `error`.
  static std::unique_ptr<PgServer> Start(const Options& o, std::string& error);
  ~PgServer();

  int port() const { return port_; }
  const std::string& data_dir() const { return data_; }

  // URL of `db` as the superuser, or as `user`/`password`.
  std::string Url(const std::string& db = "postgres") const;
  std::string UrlAs(const std::string& user, const std::string& password,
                    const std::string& db) const;

  // Creates a fresh, uniquely named database; returns its URL.
  std::string CreateDatabase(const std::string& prefix);

  // Connects as the superuser to `url`; aborts the test on failure.
  PgConn Connect(const std::string& url) const;

  // Stops ("fast" or "immediate") and starts again on the same port.
  bool Stop(const std::string& mode = "fast");
  bool StartAgain();
  bool Restart(const std::string& mode = "fast");
  // Changes a setting in postgresql.conf (takes effect at restart).
  void SetSetting(const std::string& line);

 private:
  PgServer() = default;
  std::string AsServerUser(const std::string& command) const;
  bool Run(const std::string& command) const;

  std::string root_;  // temp folder: data/, socket, log, pwfile
  std::string data_;
  int port_ = 0;
  int watchdog_fd_ = -1;
  int next_db_ = 0;
};

// One server shared by all tests of a binary: started on first use, stopped
// at exit. Tests create their own database in it for isolation.
PgServer& SharedPgServer();

}  // namespace pulse::testing

#endif  // PULSE_TESTS_HARNESS_PG_SERVER_H_
