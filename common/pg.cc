#include "common/pg.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <charconv>
#include <cstring>

#include "common/config.h"
#include "common/hex.h"
#include "common/log.h"

namespace pulse {

namespace {

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

Status::Code CodeForSqlState(std::string_view state) {
  if (state.substr(0, 2) == "08" || state.substr(0, 2) == "53" ||
      state == "57P01" || state == "57P02" || state == "57P03") {
    return Status::Code::kUnavailable;
  }
  if (state == "40001" || state == "40P01" || state == "55P03") {
    return Status::Code::kAborted;
  }
  if (state == "57014") {
    return Status::Code::kCancelled;
  }
  if (state.substr(0, 2) == "42" || state.substr(0, 2) == "55" ||
      state.substr(0, 2) == "28" || state.substr(0, 2) == "0A") {
    return Status::Code::kFailedPrecondition;
  }
  if (state.substr(0, 2) == "22" || state.substr(0, 2) == "23") {
    return Status::Code::kInvalidArgument;
  }
  return Status::Code::kInternal;
}

}  // namespace

void PgResult::Deleter::operator()(pg_result* r) const { PQclear(r); }
void PgConn::Deleter::operator()(pg_conn* c) const { PQfinish(c); }
void PgConn::FreeMem::operator()(char* p) const { PQfreemem(p); }

PgResult::PgResult(pg_result* r) : r_(r) {}

int PgResult::rows() const { return r_ ? PQntuples(r_.get()) : 0; }
int PgResult::columns() const { return r_ ? PQnfields(r_.get()) : 0; }

bool PgResult::IsNull(int row, int col) const {
  return PQgetisnull(r_.get(), row, col) != 0;
}

std::string_view PgResult::Get(int row, int col) const {
  return {PQgetvalue(r_.get(), row, col),
          static_cast<size_t>(PQgetlength(r_.get(), row, col))};
}

int64_t PgResult::GetInt(int row, int col) const {
  std::string_view v = Get(row, col);
  int64_t out = 0;
  std::from_chars(v.data(), v.data() + v.size(), out);
  return out;
}

int64_t PgResult::affected() const {
  const char* n = PQcmdTuples(r_.get());
  return n && *n ? std::strtoll(n, nullptr, 10) : 0;
}

Status StatusFromResult(const pg_result* r, std::string_view context) {
  auto* res = const_cast<pg_result*>(r);
  const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  const char* primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
  const char* hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
  std::string msg = primary ? primary : Trim(PQresultErrorMessage(res));
  if (msg.empty()) {
    msg = "server closed the connection";
    state = "08006";
  }
  std::string text = fmt::format("{}: {} (SQLSTATE {}){}", context, msg,
                                 state ? state : "none",
                                 hint ? std::string(" hint: ") + hint : "");
  return {CodeForSqlState(state ? state : "08006"), std::move(text)};
}

Result<PgConn> PgConn::Connect(std::string_view url,
                               std::string_view application, bool replication) {
  if (url.empty()) {
    return Status::InvalidArgument(
        "no database URL: set source.url (PULSE_SOURCE_URL) or target.url "
        "(PULSE_TARGET_URL), e.g. postgresql://user:pass@host:5432/db");
  }

  // Keywords override whatever the URL says; expand_dbname parses the URL.
  std::string app(application);
  std::string dbname(url);
  std::vector<const char*> keys = {"dbname", "application_name",
                                   "connect_timeout"};
  std::vector<const char*> values = {dbname.c_str(), app.c_str(), "10"};
  if (replication) {
    keys.push_back("replication");
    values.push_back("database");
    // Text values must not depend on server defaults.
    keys.push_back("options");
    values.push_back("-c datestyle=ISO -c timezone=UTC");
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);

  PgConn c;
  c.conn_.reset(PQconnectdbParams(keys.data(), values.data(), 1));
  if (c.conn_ == nullptr) {
    return Status::Internal("libpq could not allocate a connection");
  }
  // Server notices ("schema already exists, skipping") become debug log
  // lines instead of raw text on stderr.
  PQsetNoticeReceiver(
      c.conn_.get(),
      [](void*, const PGresult* r) {
        static const Logger log("postgres");
        const char* text = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        log.Debug("notice", {{"message", text ? text : ""}});
      },
      nullptr);
  if (PQstatus(c.conn_.get()) != CONNECTION_OK) {
    std::string err = c.LastError();
    bool auth = err.find("password") != std::string::npos ||
                err.find("authentication") != std::string::npos ||
                err.find("no pg_hba.conf entry") != std::string::npos;
    std::string where = RedactConnectionString(url);
    if (auth) {
      return Status::FailedPrecondition(fmt::format(
          "cannot log in to {}: {}; check the user and password in the URL "
          "and pg_hba.conf",
          where, err));
    }
    return Status::Unavailable(
        fmt::format("cannot connect to {}: {}", where, err));
  }
  return c;
}

Result<PgResult> PgConn::Exec(std::string_view sql) { return Exec(sql, {}); }

Result<PgResult> PgConn::Exec(std::string_view sql, const PgParams& params) {
  if (!conn_) {
    return Status::Unavailable("not connected to PostgreSQL");
  }
  std::string text(sql);
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) {
    values.push_back(p ? p->c_str() : nullptr);
  }
  PgResult r(PQexecParams(conn_.get(), text.c_str(),
                          static_cast<int>(values.size()), nullptr,
                          values.data(), nullptr, nullptr, 0));
  ExecStatusType st = r.raw() ? PQresultStatus(r.raw()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    if (r.raw() == nullptr) {
      return Status::Unavailable("PostgreSQL: " + LastError());
    }
    return StatusFromResult(r.raw(), "PostgreSQL");
  }
  return r;
}

Status PgConn::Run(std::string_view sql) {
  if (!conn_) {
    return Status::Unavailable("not connected to PostgreSQL");
  }
  std::string text(sql);
  if (PQsendQuery(conn_.get(), text.c_str()) == 0) {
    return Status::Unavailable("PostgreSQL: " + LastError());
  }
  Status first;
  while (pg_result* raw = PQgetResult(conn_.get())) {
    PgResult r(raw);
    ExecStatusType st = PQresultStatus(raw);
    if (first.ok() && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
        st != PGRES_EMPTY_QUERY) {
      first = StatusFromResult(raw, "PostgreSQL");
    }
  }
  return first;
}

Status PgConn::CopyInBegin(std::string_view sql) {
  std::string text(sql);
  PgResult r(PQexec(conn_.get(), text.c_str()));
  if (r.raw() == nullptr || PQresultStatus(r.raw()) != PGRES_COPY_IN) {
    return r.raw() ? StatusFromResult(r.raw(), "COPY")
                   : Status::Unavailable("COPY: " + LastError());
  }
  return Status::Ok();
}

Status PgConn::CopyInPut(std::string_view data) {
  if (PQputCopyData(conn_.get(), data.data(), static_cast<int>(data.size())) !=
      1) {
    return Status::Unavailable("COPY: " + LastError());
  }
  return Status::Ok();
}

Status PgConn::CopyInEnd() {
  if (PQputCopyEnd(conn_.get(), nullptr) != 1) {
    return Status::Unavailable("COPY: " + LastError());
  }
  Status first;
  while (pg_result* raw = PQgetResult(conn_.get())) {
    PgResult r(raw);
    if (first.ok() && PQresultStatus(raw) != PGRES_COMMAND_OK) {
      first = StatusFromResult(raw, "COPY");
    }
  }
  return first;
}

Status PgConn::CopyOutBegin(std::string_view sql) {
  std::string text(sql);
  PgResult r(PQexec(conn_.get(), text.c_str()));
  if (r.raw() == nullptr || PQresultStatus(r.raw()) != PGRES_COPY_OUT) {
    return r.raw() ? StatusFromResult(r.raw(), "COPY")
                   : Status::Unavailable("COPY: " + LastError());
  }
  return Status::Ok();
}

bool PgConn::CopyOutNext(std::string_view& row, Status& status) {
  copy_buf_.reset();
  char* buf = nullptr;
  int n = PQgetCopyData(conn_.get(), &buf, 0);
  if (n > 0) {
    copy_buf_.reset(buf);
    row = std::string_view(buf, static_cast<size_t>(n));
    return true;
  }
  status = Status::Ok();
  if (n == -2) {
    status = Status::Unavailable("COPY: " + LastError());
  }
  while (pg_result* raw = PQgetResult(conn_.get())) {
    PgResult r(raw);
    if (status.ok() && PQresultStatus(raw) != PGRES_COMMAND_OK) {
      status = StatusFromResult(raw, "COPY");
    }
  }
  return false;
}

std::string PgConn::QuoteIdent(std::string_view name) const {
  std::string out;
  size_t start = 0;
  while (true) {
    size_t dot = name.find('.', start);
    std::string_view part = name.substr(start, dot - start);
    char* q = PQescapeIdentifier(conn_.get(), part.data(), part.size());
    if (!out.empty()) {
      out.push_back('.');
    }
    out += q ? q : "";
    PQfreemem(q);
    if (dot == std::string_view::npos) {
      break;
    }
    start = dot + 1;
  }
  return out;
}

std::string PgConn::QuoteLiteral(std::string_view value) const {
  char* q = PQescapeLiteral(conn_.get(), value.data(), value.size());
  std::string out = q ? q : "''";
  PQfreemem(q);
  return out;
}

std::string PgConn::ServerParameter(const char* name) const {
  const char* v = PQparameterStatus(conn_.get(), name);
  return v ? v : "";
}

std::string PgConn::LastError() const {
  return conn_ ? Trim(PQerrorMessage(conn_.get())) : "not connected";
}

std::string ByteaHex(std::string_view bytes) {
  std::string out = "\\x";
  AppendHex(out, bytes);
  return out;
}

std::optional<std::string> ParseByteaHex(std::string_view text) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' ||
      text.size() % 2 != 0) {
    return std::nullopt;
  }
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve((text.size() - 2) / 2);
  for (size_t i = 2; i < text.size(); i += 2) {
    int hi = nibble(text[i]);
    int lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

}  // namespace pulse
