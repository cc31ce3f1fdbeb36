// Crash points: a kill -9 at an exact, awkward moment, for tests and
// chaos runs. With PULSE_CRASH_AT=<point>[:<n>] in the environment, the
// process logs `crash_point` and sends itself SIGKILL the n-th time (the
// first by default) it reaches <point>; nothing is flushed or cleaned up,
// as with an outside kill -9. Without the variable a crash point costs a
// check of an empty string.
//
// Points (README, "Guarantees"):
//   aggregate.after_alerts   alerts delivered, rollups of the flush not
//   aggregate.state_write    rollups delivered, before a partition's
//                            RocksDB commit (one hit per partition)
//   sink.before_commit       a batch written in its transaction, before
//                            COMMIT
//   ingest.snapshot_checkpoint  before the snapshot checkpoint file is
//                            rewritten

#ifndef PULSE_COMMON_CRASH_POINT_H_
#define PULSE_COMMON_CRASH_POINT_H_

#include <string_view>

namespace pulse {

void CrashPoint(std::string_view point);

}  // namespace pulse

#endif  // PULSE_COMMON_CRASH_POINT_H_
