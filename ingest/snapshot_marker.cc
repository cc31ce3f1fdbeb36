#include "ingest/snapshot_marker.h"

#include <fmt/format.h>

#include <charconv>
#include <optional>
#include <thread>

#include "common/shutdown.h"
#include "ingest/pgoutput.h"
#include "ingest/replication_stream.h"

namespace pulse::ingest {
namespace {

// "key=value" fields separated by spaces; values hold no spaces.
std::string_view Field(std::string_view content, std::string_view key) {
  std::string needle = " " + std::string(key) + "=";
  size_t at = content.find(needle);
  if (at == std::string_view::npos) {
    return {};
  }
  std::string_view rest = content.substr(at + needle.size());
  return rest.substr(0, rest.find(' '));
}

// Collects the markers of one slot while the probe reads; everything
// else is decoded only as far as the decoder needs.
class MarkerReader : public PgOutputDecoder::Handler {
 public:
  explicit MarkerReader(const std::string& slot) : slot_(slot) {}

  Status OnBegin(const BeginMessage&) override { return Status::Ok(); }
  Status OnCommit(const CommitMessage&) override { return Status::Ok(); }
  Status OnInsert(const ActivityRow&) override { return Status::Ok(); }
  void OnMessage(const LogicalMessage& m) override {
    if (m.prefix != kSnapshotMarkerPrefix || m.transactional) {
      return;
    }
    SnapshotState s;
    switch (ParseSnapshotMarker(m.content, slot_, s)) {
      case MarkerKind::kStarted:
        started_ = s;  // a later start supersedes an earlier one
        done_ = false;
        break;
      case MarkerKind::kDone:
        done_ = true;
        break;
      case MarkerKind::kNone:
        break;
    }
  }

  // Pending: started, and not done since.
  std::optional<SnapshotState> Pending() const {
    return started_ && !done_ ? started_ : std::nullopt;
  }

 private:
  const std::string& slot_;
  std::optional<SnapshotState> started_;
  bool done_ = false;
};

}  // namespace

std::string SnapshotStartedMarker(const SnapshotState& s) {
  return fmt::format(
      "started slot={} consistent_point={} pg_snapshot={} table_oid={}", s.slot,
      s.consistent_point.ToString(), s.pg_snapshot, s.table_oid);
}

std::string SnapshotDoneMarker(const std::string& slot) {
  return fmt::format("done slot={}", slot);
}

MarkerKind ParseSnapshotMarker(std::string_view content,
                               const std::string& slot, SnapshotState& out) {
  if (Field(content, "slot") != slot) {
    return MarkerKind::kNone;
  }
  if (content.starts_with("done ")) {
    return MarkerKind::kDone;
  }
  if (!content.starts_with("started ")) {
    return MarkerKind::kNone;
  }

  std::optional<Lsn> point = Lsn::Parse(Field(content, "consistent_point"));
  std::string_view snapshot = Field(content, "pg_snapshot");
  std::string_view oid = Field(content, "table_oid");
  int64_t table_oid = 0;
  std::from_chars(oid.data(), oid.data() + oid.size(), table_oid);
  if (!point || !IsSnapshotText(snapshot)) {
    return MarkerKind::kNone;
  }
  out = SnapshotState{.slot = slot,
                      .slot_created = true,
                      .consistent_point = *point,
                      .pg_snapshot = std::string(snapshot),
                      .table_oid = table_oid};
  return MarkerKind::kStarted;
}

Status EmitSnapshotMarker(PgConn& conn, const std::string& content) {
  return conn
      .Exec("SELECT pg_logical_emit_message(false, $1, $2)",
            {std::string(kSnapshotMarkerPrefix), content})
      .status();
}

Result<SnapshotState> RecoverSnapshotState(const std::string& url,
                                           PgConn& monitor,
                                           const SourceNames& names,
                                           Lsn confirmed) {
  // Read up to where the server is now: every marker of ours lies before.
  PULSE_ASSIGN_OR_RETURN(PgResult now,
                         monitor.Exec("SELECT pg_current_wal_lsn()::text"));
  Lsn target = Lsn::Parse(now.Get(0, 0)).value_or(Lsn());
  PULSE_ASSIGN_OR_RETURN(PgConn conn,
                         PgConn::Connect(url, "pulse-ingest", true));
  PULSE_ASSIGN_OR_RETURN(ReplicationStream stream,
                         ReplicationStream::Start(std::move(conn), names.slot,
                                                  names.publication, Lsn()));

  // Nothing is acknowledged: status messages repeat the slot's own
  // position, only to have the server say where its WAL ends.
  PgOutputDecoder decoder(names.schema, names.table);
  MarkerReader markers(names.slot);
  Lsn reached = confirmed;
  while (reached < target) {
    if (StopSignal::Get().requested()) {
      stream.Close();
      return Status::Cancelled("stop requested while reading the slot");
    }
    PULSE_ASSIGN_OR_RETURN(StreamEvent e,
                           stream.Next(std::chrono::milliseconds(500)));
    if (e.kind == StreamEvent::Kind::kData) {
      PULSE_RETURN_IF_ERROR(decoder.Decode(e.message, markers));
      reached = std::max(reached, e.data_start);
    } else if (e.kind == StreamEvent::Kind::kKeepalive) {
      reached = std::max(reached, e.wal_end);
    } else {
      PULSE_RETURN_IF_ERROR(stream.SendStatus(confirmed, true));
    }
  }
  stream.Close();

  // The server lets go of the slot a moment after the connection ends.
  for (int i = 0; i < 100; ++i) {
    PULSE_ASSIGN_OR_RETURN(
        PgResult active,
        monitor.Exec("SELECT count(*) FROM pg_replication_slots WHERE "
                     "slot_name = $1 AND active",
                     {names.slot}));
    if (active.GetInt(0, 0) == 0) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  if (auto pending = markers.Pending()) {
    return *pending;
  }
  return SnapshotState{.slot = names.slot,
                       .slot_created = true,
                       .consistent_point = confirmed,
                       .done = true};
}

}  // namespace pulse::ingest
