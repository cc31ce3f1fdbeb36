#include "ingest/pgoutput.h"

#include <fmt/format.h>

#include <charconv>

#include "ingest/wire.h"

namespace pulse::ingest {

namespace {

// Seconds from 1970-01-01 to 2000-01-01.
constexpr int64_t kPgEpochOffsetMs = 946'684'800'000;

Status Truncated(char kind, std::string_view what) {
  return Status::DataLoss(fmt::format(
      "pgoutput: truncated '{}' message while reading {}", kind, what));
}

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}

void Assign(ActivityRow& row, ActivityField f, std::string_view v) {
  switch (f) {
    case ActivityField::kId:
      row.id = ParseInt(v);
      break;
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

}  // namespace

EventTimeMs PgEpochMicrosToUnixMs(int64_t us) {
  return FloorTo(us, 1000) / 1000 + kPgEpochOffsetMs;
}

PgOutputDecoder::PgOutputDecoder(std::string schema, std::string table)
    : schema_(std::move(schema)), table_(std::move(table)) {}

Status PgOutputDecoder::Decode(std::string_view message, Handler& handler) {
  if (message.empty()) {
    return Status::DataLoss("pgoutput: empty message");
  }
  char kind = message[0];
  std::string_view in = message.substr(1);
  WireReader r(in);

  switch (kind) {
    case 'B': {
      BeginMessage m;
      uint64_t lsn;
      if (!r.U64(lsn) || !r.I64(m.commit_time_us) || !r.U32(m.xid)) {
        return Truncated(kind, "begin");
      }
      m.final_lsn = Lsn(lsn);
      return handler.OnBegin(m);
    }
    case 'C': {
      CommitMessage m;
      uint8_t flags;
      uint64_t commit, end;
      if (!r.U8(flags) || !r.U64(commit) || !r.U64(end) ||
          !r.I64(m.commit_time_us)) {
        return Truncated(kind, "commit");
      }
      m.commit_lsn = Lsn(commit);
      m.end_lsn = Lsn(end);
      return handler.OnCommit(m);
    }
    case 'R':
      return DecodeRelation(in, handler);
    case 'I':
      return DecodeInsert(in, handler);
    case 'U':
      handler.OnSkipped(SkippedChange::kUpdate);
      return Status::Ok();
    case 'D':
      handler.OnSkipped(SkippedChange::kDelete);
      return Status::Ok();
    case 'T':
      handler.OnSkipped(SkippedChange::kTruncate);
      return Status::Ok();
    case 'M': {
      LogicalMessage m;
      uint8_t flags;
      uint64_t lsn;
      uint32_t len;
      if (!r.U8(flags) || !r.U64(lsn) || !r.CString(m.prefix) || !r.U32(len) ||
          !r.Bytes(len, m.content)) {
        return Truncated(kind, "message");
      }
      m.transactional = (flags & 1) != 0;
      m.lsn = Lsn(lsn);
      handler.OnMessage(m);
      return Status::Ok();
    }
    case 'Y':
    case 'O':
      return Status::Ok();
    default:
      return Status::DataLoss(fmt::format(
          "pgoutput: unknown message type '{}' (0x{:02x}); is the slot "
          "using proto_version 1 without streaming?",
          kind, static_cast<uint8_t>(kind)));
  }
}

Status PgOutputDecoder::DecodeRelation(std::string_view& in, Handler& handler) {
  WireReader r(in);
  uint32_t relid;
  std::string_view ns, name;
  uint8_t identity;
  uint16_t ncols;
  if (!r.U32(relid) || !r.CString(ns) || !r.CString(name) || !r.U8(identity) ||
      !r.U16(ncols)) {
    return Truncated('R', "relation header");
  }

  // Map every column to the field it feeds, by name.
  Relation rel;
  rel.is_activity = ns == schema_ && name == table_;
  rel.fields.reserve(ncols);
  std::vector<std::string> columns;
  for (uint16_t i = 0; i < ncols; ++i) {
    uint8_t flags;
    std::string_view col;
    uint32_t type;
    int32_t typmod;
    if (!r.U8(flags) || !r.CString(col) || !r.U32(type) || !r.I32(typmod)) {
      return Truncated('R', "relation column");
    }
    rel.fields.push_back(ActivityFieldForColumn(col));
    columns.emplace_back(col);
  }
  relations_[relid] = std::move(rel);
  if (relations_[relid].is_activity) {
    handler.OnRelation(columns);
  }
  return Status::Ok();
}

Status PgOutputDecoder::DecodeInsert(std::string_view& in, Handler& handler) {
  WireReader r(in);
  uint32_t relid;
  uint8_t marker;
  if (!r.U32(relid) || !r.U8(marker)) {
    return Truncated('I', "insert header");
  }
  auto it = relations_.find(relid);
  if (it == relations_.end()) {
    return Status::DataLoss(fmt::format(
        "pgoutput: insert into relation {} before its Relation message",
        relid));
  }
  if (!it->second.is_activity) {
    handler.OnSkipped(SkippedChange::kOtherTable);
    return Status::Ok();
  }
  if (marker != 'N') {
    return Status::DataLoss(
        fmt::format("pgoutput: insert tuple marker '{}', expected 'N'",
                    static_cast<char>(marker)));
  }
  std::string_view rest = r.rest();
  ActivityRow row;
  PULSE_RETURN_IF_ERROR(DecodeTuple(rest, it->second, row));
  return handler.OnInsert(row);
}

Status PgOutputDecoder::DecodeTuple(std::string_view& in, const Relation& rel,
                                    ActivityRow& row) {
  WireReader r(in);
  uint16_t ncols;
  if (!r.U16(ncols)) {
    return Truncated('I', "tuple column count");
  }
  if (ncols > rel.fields.size()) {
    return Status::DataLoss(
        fmt::format("pgoutput: tuple has {} columns, relation has {}", ncols,
                    rel.fields.size()));
  }
  for (uint16_t i = 0; i < ncols; ++i) {
    uint8_t kind;
    if (!r.U8(kind)) {
      return Truncated('I', "tuple column kind");
    }
    if (kind == 'n' || kind == 'u') {
      continue;  // null, or an unchanged TOAST value (never in an insert)
    }
    uint32_t len;
    std::string_view value;
    if ((kind != 't' && kind != 'b') || !r.U32(len) || !r.Bytes(len, value)) {
      return Truncated('I', "tuple column value");
    }
    Assign(row, rel.fields[i], value);
  }
  return Status::Ok();
}

}  // namespace pulse::ingest
