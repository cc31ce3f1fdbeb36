// Session setup and the initial snapshot. Streaming is in stream.cc.

#include "ingest/session.h"

#include <fmt/format.h>

#include <cstdio>

#include "common/activity_json.h"
#include "common/metrics.h"
#include "common/shutdown.h"
#include "ingest/snapshot_marker.h"

namespace pulse::ingest {

Session::Session(const IngestOptions& o, IngestShared& shared, IngestMetrics& m)
    : o_(o),
      shared_(shared),
      m_(m),
      state_path_(fmt::format("{}/ingest-{}.state", o.state_dir, o.names.slot)),
      decoder_(o.names.schema, o.names.table) {}

Status Session::Run() {
  std::string exported;
  PULSE_RETURN_IF_ERROR(Prepare(exported));
  if (!state_.done) {
    shared_.publisher->set_tracker(&shared_.snapshot_tracker);
    PULSE_RETURN_IF_ERROR(RunSnapshot(exported));
  }
  shared_.publisher->set_tracker(&shared_.tracker);
  m_.snapshot_done.Set(1);
  return Stream();
}

Status Session::Prepare(std::string& exported_snapshot) {
  // An ordinary connection for checks, heartbeats and slot metrics.
  PULSE_ASSIGN_OR_RETURN(monitor_,
                         PgConn::Connect(o_.source_url, "pulse-ingest"));
  PULSE_ASSIGN_OR_RETURN(SlotInfo slot, InspectSlot(monitor_, o_.names.slot));
  PULSE_ASSIGN_OR_RETURN(std::optional<SnapshotState> saved,
                         LoadSnapshotState(state_path_));

  // Drop the slot when told to, or when it is our own half-created one:
  // nothing was read from it yet, so nothing can be lost by starting over.
  bool half_created =
      saved && saved->slot == o_.names.slot && !saved->slot_created;
  // A recreated slot starts a new snapshot whose positions are above
  // every earlier one, so rows already counted are counted again
  // (README, Limitations; `--snapshot never` avoids it).
  if (shared_.recreate_pending || half_created) {
    if (slot.exists) {
      if (slot.active) {
        return Status::Unavailable(
            fmt::format("replication slot {} is still in use; retrying before "
                        "recreating it",
                        o_.names.slot));
      }
      log_.Warn("slot_dropped",
                {{"slot", o_.names.slot},
                 {"reason", half_created ? "half-created" : "recreate-slot"}});
      PULSE_RETURN_IF_ERROR(DropSlot(monitor_, o_.names.slot));
    }
    shared_.recreate_pending = false;  // done: once per request
    std::remove(state_path_.c_str());
    slot = SlotInfo();
    saved.reset();
  }

  // Our slot vanished (dropped, or the database restored): streaming from
  // a new one would silently skip what was written in between.
  if (!slot.exists && saved && saved->slot == o_.names.slot &&
      saved->slot_created) {
    return Status::DataLoss(fmt::format(
        "replication slot {0} is gone (dropped, or the database was "
        "restored); rows written since it disappeared were never streamed. "
        "To recover, run `pulse ingest --recreate-slot` (a new snapshot), "
        "then `pulse reconcile` over the affected range",
        o_.names.slot));
  }

  PULSE_RETURN_IF_ERROR(
      CheckPrerequisites(monitor_, o_.names, /*need_new_slot=*/!slot.exists));
  PULSE_RETURN_IF_ERROR(
      EnsurePublication(monitor_, o_.names, /*new_slot=*/!slot.exists));
  if (slot.exists) {
    PULSE_RETURN_IF_ERROR(CheckSlotUsable(slot, o_.names.slot));
    if (slot.active) {
      return Status::Unavailable(fmt::format(
          "replication slot {} is in use by another connection; only one "
          "pulse ingest may read a slot (a killed one releases it within "
          "seconds)",
          o_.names.slot));
    }
  }

  // The replication connection: creates the slot, then streams from it.
  PULSE_ASSIGN_OR_RETURN(repl_, PgConn::Connect(o_.source_url, "pulse-ingest",
                                                /*replication=*/true));
  if (!slot.exists) {
    // Record the intent first: a crash before the state file says the slot
    // is complete makes the next run drop it and start over.
    state_ = SnapshotState{.slot = o_.names.slot};
    PULSE_RETURN_IF_ERROR(SaveSnapshotState(state_path_, state_));
    PULSE_ASSIGN_OR_RETURN(CreatedSlot created,
                           CreateSlot(repl_, o_.names.slot, o_.snapshot));
    PULSE_ASSIGN_OR_RETURN(TablePublication table,
                           InspectTablePublication(monitor_, o_.names));
    state_.table_oid = table.table_oid;
    state_.consistent_point = created.consistent_point;
    state_.done = !o_.snapshot;
    shared_.acked = std::max(shared_.acked, created.consistent_point);
    exported_snapshot = created.snapshot_name;
    log_.Info("slot_created", {{"slot", o_.names.slot},
                               {"lsn", created.consistent_point.ToString()},
                               {"snapshot", o_.snapshot}});
    if (state_.done) {
      state_.slot_created = true;
      PULSE_RETURN_IF_ERROR(SaveSnapshotState(state_path_, state_));
    }
    return Status::Ok();
  }

  // An existing slot: never report less than it already confirmed.
  shared_.acked = std::max(shared_.acked, slot.confirmed_flush);

  // Resume a pending snapshot, or just stream.
  if (saved && saved->slot == o_.names.slot) {
    state_ = *saved;
  } else {
    // The checkpoint file is gone (state_dir lost): the slot's unread WAL
    // says whether a snapshot was pending (snapshot_marker.h).
    log_.Warn("snapshot_state_missing",
              {{"slot", o_.names.slot},
               {"path", state_path_},
               {"action", "reading the slot for snapshot markers"}});
    PULSE_ASSIGN_OR_RETURN(
        state_, RecoverSnapshotState(o_.source_url, monitor_, o_.names,
                                     slot.confirmed_flush));
    PULSE_RETURN_IF_ERROR(SaveSnapshotState(state_path_, state_));
    log_.Warn("snapshot_state_recovered",
              {{"slot", o_.names.slot},
               {"snapshot_done", state_.done},
               {"then", state_.done ? "streaming"
                                    : "copying the snapshot again from its "
                                      "first row (rows sent before are "
                                      "replays)"}});
  }
  return Status::Ok();
}

Status Session::RunSnapshot(const std::string& exported_snapshot) {
  // Open the copy; a fresh slot's snapshot is recorded before any row
  // leaves, so a crash from here on resumes instead of starting over.
  PULSE_ASSIGN_OR_RETURN(
      SnapshotReader reader,
      SnapshotReader::Open(o_.source_url, o_.names, state_, exported_snapshot));
  if (!exported_snapshot.empty()) {
    state_.pg_snapshot = reader.pg_snapshot();
    state_.slot_created = true;
    // In the WAL before the file: a crash between them finds the slot
    // half-created and starts over; a lost file is recovered from it.
    PULSE_RETURN_IF_ERROR(
        EmitSnapshotMarker(monitor_, SnapshotStartedMarker(state_)));
    PULSE_RETURN_IF_ERROR(SaveSnapshotState(state_path_, state_));
  }
  log_.Info("snapshot_started", {{"slot", o_.names.slot},
                                 {"resume_after_id", state_.last_id},
                                 {"estimated_rows", reader.estimated_rows()},
                                 {"lsn", state_.consistent_point.ToString()}});

  // Copy in chunks; each chunk's last id becomes durable as a unit.
  AckTracker& tracker = shared_.snapshot_tracker;
  const SourcePosition pos{.lsn = state_.consistent_point,
                           .commit_lsn = state_.consistent_point,
                           .snapshot = true};
  AckTracker::UnitId unit = tracker.Open();
  int64_t in_unit = 0;
  int64_t last_id = state_.last_id;
  int64_t copied = 0;
  ActivityRow row;
  Status st;
  while (reader.Next(row, st)) {
    if ((copied & 255) == 0) {
      PULSE_RETURN_IF_ERROR(WaitForRoom());
    }
    PULSE_RETURN_IF_ERROR(Publish(row, pos, unit));
    m_.rows_snapshot.Increment();
    last_id = row.id.value_or(last_id);
    ++copied;
    if (++in_unit >= o_.snapshot_checkpoint_rows) {
      tracker.Close(unit, static_cast<uint64_t>(last_id));
      chunks_.push_back({last_id, in_unit});
      unit = tracker.Open();
      in_unit = 0;
    }
    if ((copied & 1023) == 0) {
      PULSE_RETURN_IF_ERROR(Tick());
    }
  }
  PULSE_RETURN_IF_ERROR(st);
  tracker.Close(unit, static_cast<uint64_t>(last_id));
  chunks_.push_back({last_id, in_unit});

  // Done only when every chunk is durable; then streaming may start.
  while (tracker.pending_units() > 0) {
    PULSE_RETURN_IF_ERROR(Tick());
    shared_.publisher->Poll(50);
    if (StopSignal::Get().requested()) {
      return Status::Cancelled("stop requested during snapshot");
    }
  }
  state_.done = true;
  PULSE_RETURN_IF_ERROR(
      EmitSnapshotMarker(monitor_, SnapshotDoneMarker(state_.slot)));
  PULSE_RETURN_IF_ERROR(SaveSnapshotState(state_path_, state_));
  log_.Info("snapshot_done",
            {{"rows", state_.rows}, {"last_id", state_.last_id}});
  return Status::Ok();
}

Status Session::Publish(const ActivityRow& row, const SourcePosition& pos,
                        AckTracker::UnitId unit) {
  value_buf_.clear();
  uint64_t replaced = AppendActivityJson(row, pos, value_buf_);
  if (replaced > 0) {
    m_.invalid_utf8.Increment(static_cast<double>(replaced));
  }
  std::string_view key = ActivityKey(row, key_buf_);
  m_.bytes.Increment(static_cast<double>(value_buf_.size()));

  Status st = shared_.publisher->Produce(key, value_buf_, unit,
                                         [this] { return Tick(); });
  if (!st.ok()) {
    m_.produce_errors.Increment();
  }
  return st;
}

}  // namespace pulse::ingest
