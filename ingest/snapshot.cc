#include "ingest/snapshot.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/copy_text.h"

namespace pulse::ingest {

namespace {

Status WriteFileDurably(const std::string& path, const std::string& data) {
  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    return Status::FailedPrecondition(fmt::format(
        "cannot write {}: check that state_dir exists and is writable", tmp));
  }
  bool ok = write(fd, data.data(), data.size()) ==
                static_cast<ssize_t>(data.size()) &&
            fsync(fd) == 0;
  close(fd);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::Unavailable("cannot write " + path);
  }
  std::string dir = path.substr(0, path.rfind('/') + 1);
  int dfd = open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return Status::Ok();
}

}  // namespace

bool IsSnapshotText(std::string_view s) {
  int colons = 0;
  for (char c : s) {
    if (c == ':') {
      ++colons;
    } else if (c != ',' && (c < '0' || c > '9')) {
      return false;
    }
  }
  return colons == 2 && !s.empty();
}

Result<std::optional<SnapshotState>> LoadSnapshotState(
    const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return std::optional<SnapshotState>();
  }

  // One "key value" per line, the value possibly empty (pg_snapshot when
  // no snapshot is taken); unknown keys are ignored for forward
  // compatibility, a number that does not parse marks the file damaged.
  SnapshotState s;
  bool numbers_ok = true;
  auto number = [&](const std::string& text) {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    numbers_ok =
        numbers_ok && ec == std::errc() && end == text.data() + text.size();
    return v;
  };
  std::string line;
  while (std::getline(in, line)) {
    size_t space = line.find(' ');
    std::string key = line.substr(0, space);
    std::string value =
        space == std::string::npos ? "" : line.substr(space + 1);
    if (key == "slot") {
      s.slot = value;
    } else if (key == "slot_created") {
      s.slot_created = value == "true";
    } else if (key == "consistent_point") {
      s.consistent_point = Lsn::Parse(value).value_or(Lsn());
    } else if (key == "pg_snapshot") {
      s.pg_snapshot = value;
    } else if (key == "done") {
      s.done = value == "true";
    } else if (key == "last_id") {
      s.last_id = number(value);
    } else if (key == "rows") {
      s.rows = number(value);
    } else if (key == "table_oid") {
      s.table_oid = number(value);
    }
  }
  if (s.slot.empty() || !numbers_ok ||
      (s.slot_created && !s.done && !IsSnapshotText(s.pg_snapshot))) {
    return Status::DataLoss(fmt::format(
        "{} is damaged; move it away to start the snapshot over", path));
  }
  return std::optional<SnapshotState>(s);
}

Status SaveSnapshotState(const std::string& path, const SnapshotState& s) {
  std::ostringstream out;
  out << "slot " << s.slot << "\n"
      << "slot_created " << (s.slot_created ? "true" : "false") << "\n"
      << "consistent_point " << s.consistent_point.ToString() << "\n"
      << "pg_snapshot " << s.pg_snapshot << "\n"
      << "done " << (s.done ? "true" : "false") << "\n"
      << "last_id " << s.last_id << "\n"
      << "rows " << s.rows << "\n"
      << "table_oid " << s.table_oid << "\n";
  return WriteFileDurably(path, out.str());
}

Result<SnapshotReader> SnapshotReader::Open(
    const std::string& url, const SourceNames& names,
    const SnapshotState& state, const std::string& exported_snapshot) {
  SnapshotReader r;
  PULSE_ASSIGN_OR_RETURN(r.conn_, PgConn::Connect(url, "pulse-snapshot"));
  PgConn& c = r.conn_;

  // Text output must not depend on the server's defaults.
  PULSE_RETURN_IF_ERROR(
      c.Run("SET TIME ZONE 'UTC'; SET datestyle = ISO; "
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  if (!exported_snapshot.empty()) {
    PULSE_RETURN_IF_ERROR(
        c.Run("SET TRANSACTION SNAPSHOT " + c.QuoteLiteral(exported_snapshot)));
  }
  PULSE_ASSIGN_OR_RETURN(
      PgResult snap,
      c.Exec("SELECT pg_current_snapshot()::text, "
             "(SELECT reltuples::bigint FROM pg_class WHERE oid = "
             "to_regclass($1))",
             {names.QualifiedTable()}));
  r.pg_snapshot_ = snap.GetString(0, 0);
  r.estimated_rows_ = std::max<int64_t>(0, snap.GetInt(0, 1));

  // Select the activity columns the table has; absent ones stay null.
  PULSE_ASSIGN_OR_RETURN(std::vector<std::string> present,
                         TableColumns(c, names));
  std::vector<std::string> select;
  for (const std::string& col : present) {
    ActivityField f = ActivityFieldForColumn(col);
    if (f != ActivityField::kCount) {
      r.fields_.push_back(f);
      // Aliased so ORDER BY id below sorts by the column, not its text.
      select.push_back(
          fmt::format("{}::text AS c{}", c.QuoteIdent(col), select.size()));
    }
  }
  if (r.fields_.empty()) {
    return Status::FailedPrecondition(
        fmt::format("{} has none of the Directus activity columns",
                    names.QualifiedTable()));
  }

  // On resume, keep rows whose transaction the slot's snapshot saw
  // committed. The text saved from the first session lists every xid
  // below xmax that was not committed, subtransactions included (the
  // slot's snapshot builder knows only committed xids and lists the
  // rest), so a row of a subtransaction still running then is left to
  // the slot. xmin is 32 bits; widen it with the snapshot's epoch.
  std::string visible;
  if (exported_snapshot.empty()) {
    if (!IsSnapshotText(state.pg_snapshot)) {
      return Status::DataLoss("snapshot checkpoint has no valid pg_snapshot");
    }
    std::string s = c.QuoteLiteral(state.pg_snapshot) + "::pg_snapshot";
    std::string xmax = "pg_snapshot_xmax(" + s + ")::text::bigint";
    visible = fmt::format(
        " AND (xmin::text::bigint < 3 OR pg_visible_in_snapshot(("
        "{0} - (({0} - xmin::text::bigint) % 4294967296 + 4294967296) % "
        "4294967296 + CASE WHEN (({0} - xmin::text::bigint) % 4294967296 + "
        "4294967296) % 4294967296 > 2147483648 THEN 4294967296 ELSE 0 END"
        ")::text::xid8, {1}))",
        xmax, s);
  }
  std::string sql = fmt::format(
      "COPY (SELECT {} FROM {} WHERE id > {}{} ORDER BY id) TO STDOUT",
      fmt::join(select, ", "), c.QuoteIdent(names.QualifiedTable()),
      state.last_id, visible);
  PULSE_RETURN_IF_ERROR(c.CopyOutBegin(sql));
  return r;
}

bool SnapshotReader::Next(ActivityRow& row, Status& status) {
  std::string_view line;
  if (!conn_.CopyOutNext(line, status)) {
    return false;
  }
  if (!line.empty() && line.back() == '\n') {
    line.remove_suffix(1);
  }
  status = ParseLine(line, row);
  return status.ok();
}

Status SnapshotReader::ParseLine(std::string_view line, ActivityRow& row) {
  row = ActivityRow();
  unescaped_.clear();
  unescaped_.reserve(line.size());  // views below must not move

  size_t start = 0;
  for (size_t i = 0; i < fields_.size(); ++i) {
    size_t tab = line.find('\t', start);
    if (tab == std::string_view::npos) {
      if (i + 1 != fields_.size()) {
        return Status::DataLoss("snapshot COPY row has too few columns");
      }
      tab = line.size();
    }
    std::string_view raw = line.substr(start, tab - start);
    start = tab + 1;

    size_t begin = unescaped_.size();
    if (!UnescapeCopyField(raw, unescaped_)) {
      continue;  // NULL
    }
    std::string_view v(unescaped_.data() + begin, unescaped_.size() - begin);
    switch (fields_[i]) {
      case ActivityField::kId: {
        int64_t id = 0;
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), id);
        if (ec == std::errc()) {
          row.id = id;
        }
        break;
      }
      case ActivityField::kAction:
        row.action = v;
        break;
      case ActivityField::kUser:
        row.user = v;
        break;
      case ActivityField::kTimestamp:
        row.timestamp_text = v;
        row.timestamp = ParseTimestamp(v);
        break;
      case ActivityField::kIp:
        row.ip = v;
        break;
      case ActivityField::kUserAgent:
        row.user_agent = v;
        break;
      case ActivityField::kCollection:
        row.collection = v;
        break;
      case ActivityField::kItem:
        row.item = v;
        break;
      case ActivityField::kOrigin:
        row.origin = v;
        break;
      case ActivityField::kCount:
        break;
    }
  }
  return Status::Ok();
}

}  // namespace pulse::ingest
