// `pulse ingest`: directus_activity rows from PostgreSQL logical replication
// into the activity topic, with nothing lost.
//
// One thread runs everything: it reads the replication stream (or, first,
// the initial snapshot), publishes each row, serves Kafka delivery reports,
// and tells PostgreSQL how far rows are durable. librdkafka has its own
// threads but calls back only from our polls.
//
// Lifecycle: RunIngest() loops over sessions. A session connects, checks
// prerequisites, creates the publication and slot if absent, finishes the
// snapshot if one is pending, then streams. When PostgreSQL goes away the
// session ends and the next one resumes from the slot after a backoff; any
// other failure (a lost slot, bad settings) returns a Status naming the
// fix. StopSignal ends it cleanly.

#ifndef PULSE_INGEST_INGEST_H_
#define PULSE_INGEST_INGEST_H_

#include <chrono>
#include <string>

#include "common/config.h"
#include "common/status.h"
#include "ingest/publisher.h"
#include "ingest/source.h"

namespace pulse::ingest {

enum class AckMode {
  kDelivered,  // WAL acknowledged once messages are stored by Kafka
  kSink,       // ... once the sink has committed their rollups
};

struct IngestOptions {
  std::string source_url;
  std::string target_url;  // read for the sink's progress in kSink mode
  SourceNames names;
  bool snapshot = true;  // copy existing rows when creating the slot
  bool recreate_slot = false;
  int64_t snapshot_checkpoint_rows = 50000;
  std::string state_dir = ".";
  AckMode ack = AckMode::kDelivered;
  // Messages a partition may run ahead of the aggregator's committed
  // offset; 0 is unbounded.
  int64_t max_ahead = 0;
  // Pace by what the aggregators of this process have read (`pulse run`
  // on the embedded broker) instead of what the sink has committed.
  bool pace_by_consumed = false;
  std::chrono::milliseconds status_interval{1000};
  std::chrono::milliseconds heartbeat_interval{30000};
  std::chrono::milliseconds progress_interval{5000};
  PublisherOptions kafka;
};

// Options from the configuration; `embedded` says the brokers are the
// in-memory embedded broker (which changes the ack and backpressure
// defaults).
Result<IngestOptions> IngestOptionsFromConfig(const Config& config,
                                              bool embedded);

// Runs until StopSignal or a failure it cannot retry.
Status RunIngest(const IngestOptions& options);

}  // namespace pulse::ingest

#endif  // PULSE_INGEST_INGEST_H_
