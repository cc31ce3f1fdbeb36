// Snapshot markers: the initial snapshot's state written into the WAL, so
// that the slot itself can say whether a snapshot was pending when the
// checkpoint file in state_dir is lost.
//
// When a snapshot starts, a non-transactional logical message (prefix
// "pulse.snapshot") records the slot, its consistent point and the
// snapshot text the copy's visibility filter needs; when every copied row
// is durable, a second one records that it is done. Both lie after the
// slot's consistent point, and the slot is acknowledged only once the
// snapshot is done, so a slot whose unread WAL holds a "started" marker
// and no "done" marker still owes the rest of its snapshot.

#ifndef PULSE_INGEST_SNAPSHOT_MARKER_H_
#define PULSE_INGEST_SNAPSHOT_MARKER_H_

#include <string>
#include <string_view>

#include "common/lsn.h"
#include "common/pg.h"
#include "common/status.h"
#include "ingest/snapshot.h"
#include "ingest/source.h"

namespace pulse::ingest {

inline constexpr std::string_view kSnapshotMarkerPrefix = "pulse.snapshot";

// Marker texts, and the state a "started" one carries (empty when
// `content` is not a marker of `slot`).
std::string SnapshotStartedMarker(const SnapshotState& s);
std::string SnapshotDoneMarker(const std::string& slot);
enum class MarkerKind { kNone, kStarted, kDone };
MarkerKind ParseSnapshotMarker(std::string_view content,
                               const std::string& slot, SnapshotState& out);

// Writes a marker into the WAL through `conn`.
Status EmitSnapshotMarker(PgConn& conn, const std::string& content);

// The snapshot state as the slot's unread WAL tells it: reads the slot
// from its confirmed position up to the server's current position,
// without acknowledging anything. A "started" marker without a "done"
// marker after it gives a pending snapshot (to resume from its first
// row; rows sent before repeat their positions and count as replays);
// otherwise the snapshot is done (or never was).
Result<SnapshotState> RecoverSnapshotState(const std::string& url,
                                           PgConn& monitor,
                                           const SourceNames& names,
                                           Lsn confirmed);

}  // namespace pulse::ingest

#endif  // PULSE_INGEST_SNAPSHOT_MARKER_H_
