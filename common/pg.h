// PgConn: a libpq connection with errors as Status values.
//
// This is the one place libpq errors become Status: connection failures and
// server shutdowns are kUnavailable (retry with backoff), serialization
// failures and deadlocks kAborted, bad SQL or missing objects
// kFailedPrecondition; messages carry the SQLSTATE. Values from messages are
// always sent as parameters, never spliced into SQL text.
//
// A PgConn is used by one thread at a time. PgResult owns a PGresult.

#ifndef PULSE_COMMON_PG_H_
#define PULSE_COMMON_PG_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

struct pg_conn;
struct pg_result;

namespace pulse {

class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(pg_result* r);

  int rows() const;
  int columns() const;
  bool IsNull(int row, int col) const;
  std::string_view Get(int row, int col) const;
  std::string GetString(int row, int col) const {
    return std::string(Get(row, col));
  }
  // Parses the value as an integer; 0 for NULL.
  int64_t GetInt(int row, int col) const;
  // Rows affected by INSERT/UPDATE/DELETE.
  int64_t affected() const;

  pg_result* raw() const { return r_.get(); }

 private:
  struct Deleter {
    void operator()(pg_result* r) const;
  };
  std::unique_ptr<pg_result, Deleter> r_;
};

using PgParams = std::vector<std::optional<std::string>>;

class PgConn {
 public:
  PgConn() = default;

  // `url` is a libpq URL or key=value string. `application` becomes the
  // session's application_name. `replication` adds replication=database.
  static Result<PgConn> Connect(std::string_view url,
                                std::string_view application,
                                bool replication = false);

  bool connected() const { return conn_ != nullptr; }

  Result<PgResult> Exec(std::string_view sql);
  Result<PgResult> Exec(std::string_view sql, const PgParams& params);
  // Runs statements that return no rows; fails on the first error.
  Status Run(std::string_view sql);

  // COPY ... FROM STDIN: begin, put data, end.
  Status CopyInBegin(std::string_view sql);
  Status CopyInPut(std::string_view data);
  Status CopyInEnd();

  // COPY ... TO STDOUT: begin, then Next() until it returns false.
  Status CopyOutBegin(std::string_view sql);
  // Sets `row` to the next row (valid until the next call). Returns false at
  // the end; check `status` then.
  bool CopyOutNext(std::string_view& row, Status& status);

  // Quotes an identifier ("schema"."table" for a dotted name).
  std::string QuoteIdent(std::string_view name) const;
  std::string QuoteLiteral(std::string_view value) const;

  // Server parameter reported at connect ("server_version", ...).
  std::string ServerParameter(const char* name) const;

  // The current libpq error text, trimmed.
  std::string LastError() const;

  pg_conn* raw() const { return conn_.get(); }

 private:
  struct Deleter {
    void operator()(pg_conn* c) const;
  };
  struct FreeMem {
    void operator()(char* p) const;
  };
  std::unique_ptr<pg_conn, Deleter> conn_;
  std::unique_ptr<char, FreeMem> copy_buf_;  // last CopyOutNext() row
};

// Translates a failed PGresult into a Status.
Status StatusFromResult(const pg_result* r, std::string_view context);

// Hex of bytes as PostgreSQL's bytea text input: "\\x0a1b".
std::string ByteaHex(std::string_view bytes);
// Parses "\\x0a1b" back into bytes.
std::optional<std::string> ParseByteaHex(std::string_view text);

}  // namespace pulse

#endif  // PULSE_COMMON_PG_H_
