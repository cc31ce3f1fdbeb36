// ReplicationStream: the COPY BOTH conversation of a logical replication
// connection, over libpq (libpqxx 6 cannot speak it).
//
// Server to client, inside CopyData:
//   'w' XLogData   data_start:u64  wal_end:u64  send_time:i64  message...
//   'k' Keepalive  wal_end:u64  send_time:i64  reply_requested:u8
// Client to server:
//   'r' Status     written:u64  flushed:u64  applied:u64  time:i64  reply:u8
//
// PostgreSQL advances the slot's confirmed_flush_lsn to what we report as
// flushed; WAL before it may be recycled. So only ever report positions
// whose rows are durable downstream.
//
// Owned and used by one thread.

#ifndef PULSE_INGEST_REPLICATION_STREAM_H_
#define PULSE_INGEST_REPLICATION_STREAM_H_

#include <chrono>
#include <string>
#include <string_view>

#include "common/lsn.h"
#include "common/pg.h"
#include "common/status.h"

namespace pulse::ingest {

struct StreamEvent {
  enum class Kind { kNone, kData, kKeepalive };
  Kind kind = Kind::kNone;
  Lsn data_start;  // kData: WAL position of the change
  Lsn wal_end;     // the server's position when it sent this
  bool reply_requested = false;
  std::string_view message;  // kData: the pgoutput message
};

class ReplicationStream {
 public:
  // Starts streaming `slot` on `conn` (a replication=database connection)
  // from `start` (0/0: the slot's confirmed position).
  static Result<ReplicationStream> Start(PgConn conn, std::string_view slot,
                                         std::string_view publication,
                                         Lsn start);

  // Waits up to `timeout` for the next event; kNone on timeout.
  Result<StreamEvent> Next(std::chrono::milliseconds timeout);

  // Reports `flushed` as durable (written = applied = flushed).
  Status SendStatus(Lsn flushed, bool request_reply);

  // Ends the COPY and closes the connection.
  void Close();

 private:
  explicit ReplicationStream(PgConn conn) : conn_(std::move(conn)) {}
  Result<StreamEvent> Parse(std::string_view buf);

  PgConn conn_;
  std::string buf_;  // the last CopyData, owned until the next call
};

// Microseconds since 2000-01-01, PostgreSQL's clock for the protocol.
int64_t PgNowMicros();

}  // namespace pulse::ingest

#endif  // PULSE_INGEST_REPLICATION_STREAM_H_
