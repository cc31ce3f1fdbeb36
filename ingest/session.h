// Session: one connection's worth of ingest work (see ingest.h for the
// lifecycle). Internal to the ingest library.
//
// It owns the source connections and the decoder; the publisher and its
// tracker outlive it, so messages in flight when PostgreSQL drops are still
// delivered and counted.

#ifndef PULSE_INGEST_SESSION_H_
#define PULSE_INGEST_SESSION_H_

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "common/log.h"
#include "common/pg.h"
#include "ingest/ack_tracker.h"
#include "ingest/horizon.h"
#include "ingest/ingest.h"
#include "ingest/ingest_metrics.h"
#include "ingest/pgoutput.h"
#include "ingest/publisher.h"
#include "ingest/replication_stream.h"
#include "ingest/snapshot.h"

namespace pulse::ingest {

// What outlives a session.
struct IngestShared {
  std::unique_ptr<Publisher> publisher;
  AckTracker tracker;           // the stream's units
  AckTracker snapshot_tracker;  // the snapshot's chunks
  std::unique_ptr<HorizonReader> horizon;
  Lsn acked;  // the newest LSN reported durable to PostgreSQL
  bool recreate_pending = false;  // --recreate-slot, not yet done
};

class Session : public PgOutputDecoder::Handler {
 public:
  Session(const IngestOptions& o, IngestShared& shared, IngestMetrics& m);

  // Runs until stop (kCancelled), a lost connection (kUnavailable), or a
  // failure that needs a person.
  Status Run();

  // PgOutputDecoder::Handler.
  Status OnBegin(const BeginMessage& m) override;
  Status OnCommit(const CommitMessage& m) override;
  Status OnInsert(const ActivityRow& row) override;
  void OnMessage(const LogicalMessage& m) override;
  void OnSkipped(SkippedChange kind) override;
  void OnRelation(const std::vector<std::string>& columns) override;

 private:
  // Setup: connections, prerequisites, publication, slot, snapshot state.
  Status Prepare(std::string& exported_snapshot);
  Status RunSnapshot(const std::string& exported_snapshot);
  Status Stream();

  // Encodes and produces one row as part of `unit`.
  Status Publish(const ActivityRow& row, const SourcePosition& pos,
                 AckTracker::UnitId unit);
  // Waits while a partition runs too far ahead of the aggregator.
  Status WaitForRoom();
  // Periodic work: deliveries, acknowledgement, heartbeat, metrics, logs.
  Status Tick();
  const AckTracker::Horizon* Horizon();
  // Moves the snapshot checkpoint to the newest durable chunk.
  Status CheckpointSnapshot();
  // Moves the acknowledged LSN to the newest durable transaction.
  void AdvanceAck();
  // Ends the session when the ordinary connection to PostgreSQL is gone
  // (checked once a second), so a paused stream never holds up a server
  // shutdown.
  Status CheckSourceAlive(std::chrono::steady_clock::time_point now);
  void Heartbeat();
  void RefreshSlotMetrics();
  // Notices a table the publication no longer publishes: recreated (a new
  // oid), whose rows then never reach the stream, sets recreate_at_; a
  // dropped publication, or the table taken out of it, is an error.
  Status CheckTablePublished();
  void LogProgress(bool force);

  const IngestOptions& o_;
  IngestShared& shared_;
  IngestMetrics& m_;
  Logger log_{"ingest"};
  std::string state_path_;
  SnapshotState state_;

  PgConn repl_;     // replication=database connection
  PgConn monitor_;  // ordinary connection: heartbeat, slot metrics
  std::optional<ReplicationStream> stream_;
  PgOutputDecoder decoder_;

  // The transaction being decoded.
  bool in_txn_ = false;
  AckTracker::UnitId unit_ = 0;
  BeginMessage begin_;
  Lsn change_lsn_;  // WAL position of the message being decoded
  std::vector<std::string> columns_;

  // Snapshot chunks not yet durable: last id and row count.
  struct Chunk {
    int64_t last_id;
    int64_t rows;
  };
  std::deque<Chunk> chunks_;

  // Once the table was recreated: the WAL position to stream and
  // acknowledge before the slot is recreated with a snapshot of the new
  // table (everything before it belongs to the old one).
  std::optional<Lsn> recreate_at_;

  std::string key_buf_;
  std::string value_buf_;
  using Clock = std::chrono::steady_clock;
  Clock::time_point last_status_{};
  Clock::time_point last_heartbeat_{};
  Clock::time_point last_metrics_{};
  Clock::time_point last_alive_check_{};
  Clock::time_point last_progress_{};
  int64_t rows_at_progress_ = 0;
};

}  // namespace pulse::ingest

#endif  // PULSE_INGEST_SESSION_H_
