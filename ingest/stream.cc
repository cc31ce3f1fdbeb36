// Session streaming: the replication loop, the decoder's callbacks, and the
// periodic work that acknowledges WAL.

#include <fmt/format.h>

#include "common/consumed_offsets.h"
#include "common/crash_point.h"
#include "common/shutdown.h"
#include "common/time_util.h"
#include "ingest/session.h"

namespace pulse::ingest {

namespace {

constexpr std::string_view kHeartbeatPrefix = "pulse.heartbeat";

// A dropped publication surfaces as the server's "publication ... does not
// exist" when the next change is decoded; say what it means for the slot.
Status ExplainStreamError(const Status& st, const SourceNames& names) {
  const std::string& m = st.message();
  if (m.find("publication") == std::string::npos ||
      m.find("does not exist") == std::string::npos) {
    return st;
  }
  return Status::FailedPrecondition(fmt::format(
      "publication \"{0}\" was dropped while replication slot {1} still "
      "needs it, and the slot cannot be read past the drop ({2}). Recreate "
      "the slot without copying the table again: `pulse ingest "
      "--recreate-slot --snapshot never` (it recreates the publication); "
      "rows written from the drop until then are not counted, `pulse "
      "reconcile` shows them. (--recreate-slot alone would copy and count "
      "every existing row a second time.)",
      names.publication, names.slot, m));
}

}  // namespace

Status Session::Stream() {
  // Start from the slot's confirmed position (0/0 asks for exactly that).
  PULSE_ASSIGN_OR_RETURN(
      ReplicationStream s,
      ReplicationStream::Start(std::move(repl_), o_.names.slot,
                               o_.names.publication, Lsn()));
  stream_.emplace(std::move(s));
  Health::Get().SetReady("ingest", true);
  log_.Info("streaming_started",
            {{"slot", o_.names.slot}, {"acked", shared_.acked.ToString()}});

  while (!StopSignal::Get().requested()) {
    PULSE_RETURN_IF_ERROR(Tick());
    PULSE_RETURN_IF_ERROR(WaitForRoom());

    // The old table's rows are all durable: start over on the new one.
    if (recreate_at_ && shared_.acked >= *recreate_at_) {
      shared_.recreate_pending = true;
      return Status::Unavailable(fmt::format(
          "table {} was recreated; recreating slot {} with a snapshot",
          o_.names.QualifiedTable(), o_.names.slot));
    }

    Result<StreamEvent> next = stream_->Next(std::chrono::milliseconds(100));
    if (!next.ok()) {
      return ExplainStreamError(next.status(), o_.names);
    }
    const StreamEvent& e = *next;
    switch (e.kind) {
      case StreamEvent::Kind::kNone:
        break;
      case StreamEvent::Kind::kData:
        change_lsn_ = e.data_start;
        PULSE_RETURN_IF_ERROR(decoder_.Decode(e.message, *this));
        break;
      case StreamEvent::Kind::kKeepalive:
        // Outside a transaction, everything before wal_end has reached us:
        // a unit without messages makes it acknowledgeable once all
        // earlier units are durable. This is what keeps an idle table's
        // slot moving while other tables are busy.
        if (!in_txn_ && e.wal_end > shared_.acked) {
          AckTracker::UnitId marker = shared_.tracker.Open();
          shared_.tracker.Close(marker, e.wal_end.value());
        }
        if (e.reply_requested) {
          last_status_ = {};  // answer in this Tick
        }
        break;
    }
  }

  // Clean stop: deliver what is queued and report it durable.
  PULSE_RETURN_IF_ERROR(shared_.publisher->Flush(30000));
  AdvanceAck();
  if (stream_) {
    stream_->SendStatus(shared_.acked, false).IgnoreError();
    stream_->Close();
  }
  return Status::Cancelled("stop requested");
}

Status Session::OnBegin(const BeginMessage& m) {
  in_txn_ = true;
  begin_ = m;
  unit_ = shared_.tracker.Open();
  return Status::Ok();
}

Status Session::OnCommit(const CommitMessage& m) {
  shared_.tracker.Close(unit_, m.end_lsn.value());
  in_txn_ = false;
  m_.transactions.Increment();
  return Status::Ok();
}

Status Session::OnInsert(const ActivityRow& row) {
  if (!in_txn_) {
    return Status::DataLoss("pgoutput: insert outside a transaction");
  }
  SourcePosition pos{.lsn = change_lsn_,
                     .commit_lsn = begin_.final_lsn,
                     .xid = begin_.xid,
                     .snapshot = false};
  PULSE_RETURN_IF_ERROR(Publish(row, pos, unit_));
  m_.rows_streamed.Increment();
  return Status::Ok();
}

void Session::OnMessage(const LogicalMessage& m) {
  if (m.prefix != kHeartbeatPrefix || m.transactional) {
    return;
  }
  // The heartbeat carries the time it was sent: its age is the lag.
  int64_t sent = 0;
  for (char c : m.content) {
    if (c < '0' || c > '9') {
      return;
    }
    sent = sent * 10 + (c - '0');
  }
  m_.lag_seconds.Set(static_cast<double>(NowMs() - sent) / 1000.0);
  if (!in_txn_ && m.lsn > shared_.acked) {
    AckTracker::UnitId marker = shared_.tracker.Open();
    shared_.tracker.Close(marker, m.lsn.value());
  }
}

void Session::OnSkipped(SkippedChange kind) {
  switch (kind) {
    case SkippedChange::kUpdate:
      m_.skipped_update.Increment();
      break;
    case SkippedChange::kDelete:
      m_.skipped_delete.Increment();
      break;
    case SkippedChange::kTruncate:
      m_.skipped_truncate.Increment();
      log_.Warn("truncate_seen",
                {{"table", o_.names.QualifiedTable()},
                 {"effect", "rollups keep counting the removed rows"}});
      break;
    case SkippedChange::kOtherTable:
      m_.skipped_other.Increment();
      break;
  }
}

void Session::OnRelation(const std::vector<std::string>& columns) {
  if (columns == columns_) {
    return;
  }
  if (!columns_.empty()) {
    log_.Info("relation_changed",
              {{"table", o_.names.QualifiedTable()},
               {"columns", fmt::format("{}", fmt::join(columns, ","))}});
  }
  columns_ = columns;
}

const AckTracker::Horizon* Session::Horizon() {
  if (!shared_.horizon) {
    return nullptr;
  }
  return &shared_.horizon->Get(std::chrono::milliseconds(200));
}

void Session::AdvanceAck() {
  const AckTracker::Horizon* h = o_.ack == AckMode::kSink ? Horizon() : nullptr;
  std::optional<uint64_t> tag = shared_.tracker.DurableTag(h);
  if (tag && Lsn(*tag) > shared_.acked) {
    shared_.acked = Lsn(*tag);
    m_.acked_lsn.Set(static_cast<double>(*tag));
  }
}

Status Session::CheckpointSnapshot() {
  const AckTracker::Horizon* h = o_.ack == AckMode::kSink ? Horizon() : nullptr;
  std::optional<uint64_t> tag = shared_.snapshot_tracker.DurableTag(h);
  if (!tag || static_cast<int64_t>(*tag) <= state_.last_id) {
    return Status::Ok();  // nothing new became durable
  }

  // Every chunk up to `tag` is durable: its rows need no redo.
  auto last_id = static_cast<int64_t>(*tag);
  while (!chunks_.empty() && chunks_.front().last_id <= last_id) {
    state_.rows += chunks_.front().rows;
    chunks_.pop_front();
  }
  state_.last_id = std::max(state_.last_id, last_id);
  CrashPoint("ingest.snapshot_checkpoint");
  return SaveSnapshotState(state_path_, state_);
}

Status Session::WaitForRoom() {
  if (o_.max_ahead <= 0) {
    return Status::Ok();
  }

  // Pause reading while some partition is too far ahead of the
  // aggregator's committed offset; deliveries and status keep flowing.
  bool waited = false;
  while (!StopSignal::Get().requested()) {
    AckTracker::Horizon consumed;
    const AckTracker::Horizon* h = Horizon();
    if (o_.pace_by_consumed) {
      consumed = ConsumedOffsets::Get().Of(o_.kafka.topic);
      h = &consumed;
    }
    bool room = true;
    for (const AckTracker* t : {&shared_.tracker, &shared_.snapshot_tracker}) {
      for (const auto& [partition, delivered] : t->delivered_offsets()) {
        auto it = h->find(partition);
        int64_t committed = it == h->end() ? 0 : it->second;
        room = room && delivered - committed < o_.max_ahead;
      }
    }
    if (room) {
      break;
    }
    waited = true;
    m_.backpressure.Set(1);
    PULSE_RETURN_IF_ERROR(Tick());
    shared_.publisher->Poll(50);
  }
  if (waited) {
    m_.backpressure.Set(0);
  }
  return Status::Ok();
}

Status Session::Tick() {
  // Deliveries first: they are what makes positions durable.
  shared_.publisher->Poll(0);
  PULSE_RETURN_IF_ERROR(shared_.publisher->fatal());
  m_.in_flight.Set(static_cast<double>(shared_.tracker.in_flight() +
                                       shared_.snapshot_tracker.in_flight()));

  auto now = Clock::now();
  PULSE_RETURN_IF_ERROR(CheckSourceAlive(now));
  if (!state_.done) {
    if (now - last_status_ >= o_.status_interval) {
      last_status_ = now;
      PULSE_RETURN_IF_ERROR(CheckpointSnapshot());
    }
  } else if (stream_) {
    // Report the durable position; when idle, ask the server for its
    // position so the next report can move past quiet WAL.
    AdvanceAck();
    if (now - last_status_ >= o_.status_interval) {
      last_status_ = now;
      bool idle = !in_txn_ && shared_.tracker.pending_units() == 0;
      PULSE_RETURN_IF_ERROR(stream_->SendStatus(shared_.acked, idle));
    }
  }

  if (o_.heartbeat_interval.count() > 0 && state_.done &&
      now - last_heartbeat_ >= o_.heartbeat_interval) {
    last_heartbeat_ = now;
    Heartbeat();
  }
  if (now - last_metrics_ >= std::chrono::seconds(5)) {
    last_metrics_ = now;
    RefreshSlotMetrics();
    if (state_.done && stream_) {
      PULSE_RETURN_IF_ERROR(CheckTablePublished());
    }
  }
  LogProgress(false);
  return Status::Ok();
}

Status Session::CheckSourceAlive(std::chrono::steady_clock::time_point now) {
  if (now - last_alive_check_ < std::chrono::seconds(1)) {
    return Status::Ok();
  }
  last_alive_check_ = now;

  // While reading is paused (for downstream, or a full producer queue),
  // the walsender waits to send us the rest of the WAL and our status
  // messages keep it from timing out; a fast shutdown of PostgreSQL waits
  // for it. Ordinary connections are ended first: when ours is, end the
  // session so the server can stop.
  auto alive = monitor_.Exec("SELECT 1");
  if (!alive.ok()) {
    return Status::Unavailable(
        fmt::format("PostgreSQL went away: {}", alive.status().message()));
  }
  return Status::Ok();
}

void Session::Heartbeat() {
  // A non-transactional message: decoded right away, even mid-transaction
  // elsewhere, so its age measures the whole path's lag.
  auto r =
      monitor_.Exec("SELECT pg_logical_emit_message(false, $1, $2)",
                    {std::string(kHeartbeatPrefix), std::to_string(NowMs())});
  if (!r.ok()) {
    log_.Debug("heartbeat_failed", {{"error", r.status().message()}});
  }
}

void Session::RefreshSlotMetrics() {
  auto r = monitor_.Exec(
      "SELECT pg_current_wal_lsn() - confirmed_flush_lsn, "
      "pg_current_wal_lsn() - restart_lsn FROM pg_replication_slots "
      "WHERE slot_name = $1",
      {o_.names.slot});
  if (r.ok() && r->rows() == 1) {
    m_.lag_bytes.Set(static_cast<double>(r->GetInt(0, 0)));
    m_.retained_wal.Set(static_cast<double>(r->GetInt(0, 1)));
  }
}

Status Session::CheckTablePublished() {
  if (recreate_at_) {
    return Status::Ok();
  }
  auto t = InspectTablePublication(monitor_, o_.names);
  if (!t.ok() || t->table_oid == 0) {
    return Status::Ok();  // unknown for now, or dropped and not yet back
  }
  if (!t->publication_exists) {
    return ExplainStreamError(
        Status::FailedPrecondition(fmt::format(
            "publication \"{}\" does not exist", o_.names.publication)),
        o_.names);
  }

  // Published: remember which table that is (older state files lack it).
  if (t->published) {
    if (state_.table_oid != t->table_oid) {
      state_.table_oid = t->table_oid;
      return SaveSnapshotState(state_path_, state_);
    }
    return Status::Ok();
  }

  // The same table taken out of the publication: its rows are missed
  // from now on, and copying it again would count old rows twice.
  if (state_.table_oid == 0 || state_.table_oid == t->table_oid) {
    return Status::FailedPrecondition(fmt::format(
        "publication {0} no longer publishes {1}, so its new rows are not "
        "streamed: run ALTER PUBLICATION {0} ADD TABLE {1} and restart; "
        "rows written meanwhile are not counted (`pulse reconcile` shows "
        "them)",
        o_.names.publication, o_.names.QualifiedTable()));
  }

  // A new table under the same name: none of its rows were published,
  // while the old one's may still be ahead in the WAL. Stream to here,
  // then start over with a slot whose snapshot copies the new table.
  auto wal = monitor_.Exec("SELECT pg_current_wal_lsn()::text");
  if (!wal.ok()) {
    return Status::Ok();
  }
  recreate_at_ = Lsn::Parse(wal->Get(0, 0)).value_or(Lsn());
  log_.Warn("table_recreated",
            {{"table", o_.names.QualifiedTable()},
             {"old_oid", state_.table_oid},
             {"new_oid", t->table_oid},
             {"stream_until", recreate_at_->ToString()},
             {"then", "recreate the slot with a snapshot of the new table"}});
  return Status::Ok();
}

void Session::LogProgress(bool force) {
  auto now = Clock::now();
  if (!force && now - last_progress_ < o_.progress_interval) {
    return;
  }
  double secs = std::chrono::duration<double>(now - last_progress_).count();
  last_progress_ = now;
  auto rows =
      static_cast<int64_t>(m_.rows_snapshot.Value() + m_.rows_streamed.Value());
  int64_t rate = secs > 0 && secs < 1e6
                     ? static_cast<int64_t>((rows - rows_at_progress_) / secs)
                     : 0;
  rows_at_progress_ = rows;
  log_.Info("progress",
            {{"phase", state_.done ? "stream" : "snapshot"},
             {"rows", rows},
             {"rows_per_s", rate},
             {"snapshot_last_id", state_.last_id},
             {"in_flight", static_cast<int64_t>(m_.in_flight.Value())},
             {"acked", shared_.acked.ToString()},
             {"lag_bytes", static_cast<int64_t>(m_.lag_bytes.Value())}});
}

}  // namespace pulse::ingest
