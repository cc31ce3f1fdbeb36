// The directus_activity table as Directus 11+ creates it, and the SQL that
// writes rows into it.
//
// Shape: id serial primary key, action varchar(45), "user" uuid null,
// "timestamp" timestamptz default now(), ip varchar(50) null, user_agent
// text null, collection varchar(64), item varchar(255), origin
// varchar(255) null, plus an index on "timestamp" (Directus 12). The
// legacy shape (Directus 10 and older) has `comment text null` between
// item and origin. Ids always come from the table's sequence.
//
// Table names are quoted with PgConn::QuoteIdent; values always travel as
// COPY data or statement parameters.

#ifndef PULSE_GENERATE_ACTIVITY_TABLE_H_
#define PULSE_GENERATE_ACTIVITY_TABLE_H_

#include <string>

#include "common/pg.h"
#include "common/status.h"
#include "generate/activity_generator.h"

namespace pulse::generate {

// Creates `table` (schema-qualified or not) and its timestamp index when
// the table is absent. An existing table is left exactly as it is.
Status CreateActivityTable(PgConn& conn, const std::string& table,
                           bool legacy_comment);

// Whether `table` has the legacy `comment` column.
Result<bool> HasCommentColumn(PgConn& conn, const std::string& table);

// `"action", "user", ..., "origin"` and `, "comment"` when asked: every
// column but id, in the order rows are written.
std::string ActivityColumns(bool with_comment);

// COPY <table> (<columns>) FROM STDIN, text format.
std::string CopySql(const PgConn& conn, const std::string& table,
                    bool with_comment);

// INSERT of `rows` rows with parameters $1..$n, AppendInsertParams order.
std::string InsertSql(const PgConn& conn, const std::string& table,
                      bool with_comment, int rows);

// Appends the row's values as parameters (null stays null).
void AppendInsertParams(const ActivityRow& row, bool with_comment,
                        PgParams& params);

}  // namespace pulse::generate

#endif  // PULSE_GENERATE_ACTIVITY_TABLE_H_
