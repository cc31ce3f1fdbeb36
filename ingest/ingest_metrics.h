// The ingest's Prometheus metrics, created once per process.

#ifndef PULSE_INGEST_INGEST_METRICS_H_
#define PULSE_INGEST_INGEST_METRICS_H_

#include "common/metrics.h"

namespace pulse::ingest {

struct IngestMetrics {
  IngestMetrics();

  prometheus::Counter& rows_snapshot;
  prometheus::Counter& rows_streamed;
  prometheus::Counter& bytes;
  prometheus::Counter& transactions;
  prometheus::Counter& skipped_update;
  prometheus::Counter& skipped_delete;
  prometheus::Counter& skipped_truncate;
  prometheus::Counter& skipped_other;
  prometheus::Counter& invalid_utf8;
  prometheus::Counter& produce_errors;
  prometheus::Counter& reconnects;
  prometheus::Gauge& in_flight;
  prometheus::Gauge& acked_lsn;
  prometheus::Gauge& lag_bytes;
  prometheus::Gauge& lag_seconds;
  prometheus::Gauge& retained_wal;
  prometheus::Gauge& snapshot_done;
  prometheus::Gauge& backpressure;
};

}  // namespace pulse::ingest

#endif  // PULSE_INGEST_INGEST_METRICS_H_
