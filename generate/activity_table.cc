#include "generate/activity_table.h"

#include <fmt/format.h>

#include "common/log.h"
#include "common/time_util.h"

namespace pulse::generate {

namespace {

constexpr int kColumns = 8;

// The index Directus 12 adds, named after the table.
std::string IndexName(const std::string& table) {
  size_t dot = table.rfind('.');
  std::string base = dot == std::string::npos ? table : table.substr(dot + 1);
  return base + "_timestamp_index";
}

std::optional<std::string> Param(std::optional<std::string_view> v) {
  if (!v) {
    return std::nullopt;
  }
  return std::string(*v);
}

}  // namespace

Status CreateActivityTable(PgConn& conn, const std::string& table,
                           bool legacy_comment) {
  Logger log("generate");
  std::string quoted = conn.QuoteIdent(table);

  // Someone else's table, even of another shape, is never touched.
  PULSE_ASSIGN_OR_RETURN(
      PgResult found,
      conn.Exec("SELECT to_regclass($1) IS NOT NULL", {quoted}));
  if (found.Get(0, 0) == "t") {
    log.Info("table_exists", {{"table", table}});
    return Status::Ok();
  }

  // One implicit transaction: the table never exists without its index.
  std::string sql = fmt::format(
      "CREATE TABLE IF NOT EXISTS {0} ("
      "id serial PRIMARY KEY, "
      "action varchar(45) NOT NULL, "
      "\"user\" uuid NULL, "
      "\"timestamp\" timestamptz NOT NULL DEFAULT now(), "
      "ip varchar(50) NULL, "
      "user_agent text NULL, "
      "collection varchar(64) NOT NULL, "
      "item varchar(255) NOT NULL, "
      "{1}"
      "origin varchar(255) NULL); "
      "CREATE INDEX IF NOT EXISTS {2} ON {0} (\"timestamp\")",
      quoted, legacy_comment ? "comment text NULL, " : "",
      conn.QuoteIdent(IndexName(table)));
  PULSE_RETURN_IF_ERROR(
      conn.Run(sql).WithContext(fmt::format("creating table {}", table)));
  log.Info("table_created", {{"table", table}, {"comment", legacy_comment}});
  return Status::Ok();
}

Result<bool> HasCommentColumn(PgConn& conn, const std::string& table) {
  PULSE_ASSIGN_OR_RETURN(
      PgResult r,
      conn.Exec("SELECT count(*) FROM pg_attribute "
                "WHERE attrelid = to_regclass($1) AND attname = 'comment' "
                "AND attnum > 0 AND NOT attisdropped",
                {conn.QuoteIdent(table)}));
  return r.GetInt(0, 0) > 0;
}

std::string ActivityColumns(bool with_comment) {
  std::string columns =
      "\"action\", \"user\", \"timestamp\", \"ip\", \"user_agent\", "
      "\"collection\", \"item\", \"origin\"";
  if (with_comment) {
    columns += ", \"comment\"";
  }
  return columns;
}

std::string CopySql(const PgConn& conn, const std::string& table,
                    bool with_comment) {
  return fmt::format("COPY {} ({}) FROM STDIN", conn.QuoteIdent(table),
                     ActivityColumns(with_comment));
}

std::string InsertSql(const PgConn& conn, const std::string& table,
                      bool with_comment, int rows) {
  int per_row = kColumns + (with_comment ? 1 : 0);
  std::string sql =
      fmt::format("INSERT INTO {} ({}) VALUES ", conn.QuoteIdent(table),
                  ActivityColumns(with_comment));
  int n = 0;
  for (int r = 0; r < rows; ++r) {
    sql += r == 0 ? "(" : ", (";
    for (int c = 0; c < per_row; ++c) {
      sql += c == 0 ? "$" : ", $";
      sql += std::to_string(++n);
    }
    sql += ")";
  }
  return sql;
}

void AppendInsertParams(const ActivityRow& row, bool with_comment,
                        PgParams& params) {
  params.push_back(std::string(row.action));
  params.push_back(Param(row.user));
  params.push_back(FormatRfc3339Ms(row.timestamp));
  params.push_back(Param(row.ip));
  params.push_back(Param(row.user_agent));
  params.push_back(std::string(row.collection));
  params.push_back(row.item);
  params.push_back(Param(row.origin));
  if (with_comment) {
    params.push_back(Param(row.comment));
  }
}

}  // namespace pulse::generate
