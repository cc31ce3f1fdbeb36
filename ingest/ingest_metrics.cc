#include "ingest/ingest_metrics.h"

namespace pulse::ingest {

namespace {

prometheus::Counter& Skipped(const char* kind) {
  return CounterMetric("pulse_ingest_skipped_changes_total",
                       "Changes read and skipped (they never change a "
                       "rollup), by kind",
                       {{"kind", kind}});
}

}  // namespace

IngestMetrics::IngestMetrics()
    : rows_snapshot(CounterMetric("pulse_ingest_rows_total",
                                  "Activity rows published, by phase",
                                  {{"phase", "snapshot"}})),
      rows_streamed(CounterMetric("pulse_ingest_rows_total",
                                  "Activity rows published, by phase",
                                  {{"phase", "stream"}})),
      bytes(CounterMetric("pulse_ingest_bytes_total",
                          "Bytes of message values published")),
      transactions(CounterMetric("pulse_ingest_transactions_total",
                                 "Source transactions with activity rows")),
      skipped_update(Skipped("update")),
      skipped_delete(Skipped("delete")),
      skipped_truncate(Skipped("truncate")),
      skipped_other(Skipped("other_table")),
      invalid_utf8(CounterMetric(
          "pulse_ingest_invalid_utf8_bytes_total",
          "Bytes that were not UTF-8 and became U+FFFD in messages")),
      produce_errors(CounterMetric("pulse_ingest_produce_errors_total",
                                   "Produce calls that failed")),
      reconnects(CounterMetric("pulse_ingest_reconnects_total",
                               "Sessions restarted after PostgreSQL went "
                               "away")),
      in_flight(GaugeMetric("pulse_ingest_in_flight_messages",
                            "Messages produced, not yet delivered")),
      acked_lsn(GaugeMetric("pulse_ingest_acknowledged_lsn",
                            "LSN reported durable to PostgreSQL")),
      lag_bytes(GaugeMetric("pulse_ingest_replication_lag_bytes",
                            "WAL between the server's position and the "
                            "slot's confirmed position")),
      lag_seconds(GaugeMetric("pulse_ingest_replication_lag_seconds",
                              "Age of the newest heartbeat received")),
      retained_wal(GaugeMetric("pulse_ingest_slot_retained_wal_bytes",
                               "WAL the slot keeps on the server")),
      snapshot_done(GaugeMetric("pulse_ingest_snapshot_done",
                                "1 once the initial snapshot is complete")),
      backpressure(GaugeMetric("pulse_ingest_backpressure",
                               "1 while reading pauses for downstream")) {}

}  // namespace pulse::ingest
