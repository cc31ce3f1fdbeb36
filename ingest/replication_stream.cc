#include "ingest/replication_stream.h"

#include <fmt/format.h>
#include <libpq-fe.h>
#include <poll.h>

#include "ingest/wire.h"

namespace pulse::ingest {

int64_t PgNowMicros() {
  using namespace std::chrono;
  int64_t unix_us =
      duration_cast<microseconds>(system_clock::now().time_since_epoch())
          .count();
  return unix_us - 946'684'800'000'000;
}

Result<ReplicationStream> ReplicationStream::Start(PgConn conn,
                                                   std::string_view slot,
                                                   std::string_view publication,
                                                   Lsn start) {
  // messages 'true' lets our heartbeats (pg_logical_emit_message) through,
  // which measure end-to-end replication lag.
  std::string sql = fmt::format(
      "START_REPLICATION SLOT {} LOGICAL {} (proto_version '1', "
      "publication_names {}, messages 'true')",
      conn.QuoteIdent(slot), start.ToString(), conn.QuoteLiteral(publication));
  PgResult r(PQexec(conn.raw(), sql.c_str()));
  if (r.raw() == nullptr || PQresultStatus(r.raw()) != PGRES_COPY_BOTH) {
    return r.raw()
               ? StatusFromResult(r.raw(), "START_REPLICATION")
               : Status::Unavailable("START_REPLICATION: " + conn.LastError());
  }
  if (PQsetnonblocking(conn.raw(), 1) != 0) {
    return Status::Internal("cannot make the replication socket non-blocking");
  }
  return ReplicationStream(std::move(conn));
}

Result<StreamEvent> ReplicationStream::Next(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    // Push out any status message still queued (non-blocking socket).
    if (PQflush(conn_.raw()) < 0) {
      return Status::Unavailable("replication: " + conn_.LastError());
    }

    // Take a message already buffered by libpq, if any.
    char* raw = nullptr;
    int n = PQgetCopyData(conn_.raw(), &raw, 1);
    if (n > 0) {
      buf_.assign(raw, static_cast<size_t>(n));
      PQfreemem(raw);
      return Parse(buf_);
    }
    if (n == -1) {
      // COPY ended: the server finished the stream (e.g. shutdown).
      PgResult r(PQgetResult(conn_.raw()));
      if (r.raw() != nullptr && PQresultStatus(r.raw()) == PGRES_FATAL_ERROR) {
        return StatusFromResult(r.raw(), "replication");
      }
      return Status::Unavailable("replication stream ended by the server");
    }
    if (n == -2) {
      return Status::Unavailable("replication: " + conn_.LastError());
    }

    // Nothing buffered: wait for the socket, then read what arrived.
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return StreamEvent{};
    }
    pollfd pfd{PQsocket(conn_.raw()), POLLIN, 0};
    int ready = poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) {
      return Status::Unavailable("replication: poll failed");
    }
    if (ready > 0 && PQconsumeInput(conn_.raw()) == 0) {
      return Status::Unavailable("replication: " + conn_.LastError());
    }
  }
}

Result<StreamEvent> ReplicationStream::Parse(std::string_view buf) {
  WireReader r(buf);
  uint8_t kind;
  r.U8(kind);
  StreamEvent e;
  uint64_t start, end;
  int64_t time;
  if (kind == 'w') {
    if (!r.U64(start) || !r.U64(end) || !r.I64(time)) {
      return Status::DataLoss("replication: truncated XLogData header");
    }
    e.kind = StreamEvent::Kind::kData;
    e.data_start = Lsn(start);
    e.wal_end = Lsn(end);
    e.message = r.rest();
    return e;
  }
  if (kind == 'k') {
    uint8_t reply;
    if (!r.U64(end) || !r.I64(time) || !r.U8(reply)) {
      return Status::DataLoss("replication: truncated keepalive");
    }
    e.kind = StreamEvent::Kind::kKeepalive;
    e.wal_end = Lsn(end);
    e.reply_requested = reply != 0;
    return e;
  }
  return Status::DataLoss(
      fmt::format("replication: unknown CopyData type 0x{:02x}", kind));
}

Status ReplicationStream::SendStatus(Lsn flushed, bool request_reply) {
  std::string msg;
  msg.push_back('r');
  PutBigEndian(msg, flushed.value());
  PutBigEndian(msg, flushed.value());
  PutBigEndian(msg, flushed.value());
  PutBigEndian(msg, PgNowMicros());
  msg.push_back(request_reply ? 1 : 0);
  if (PQputCopyData(conn_.raw(), msg.data(), static_cast<int>(msg.size())) !=
          1 ||
      PQflush(conn_.raw()) < 0) {
    return Status::Unavailable("replication: cannot send status: " +
                               conn_.LastError());
  }
  return Status::Ok();
}

void ReplicationStream::Close() {
  if (conn_.connected()) {
    PQputCopyEnd(conn_.raw(), nullptr);
    PQflush(conn_.raw());
  }
  conn_ = PgConn();
}

}  // namespace pulse::ingest
