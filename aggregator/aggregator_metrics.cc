#include "aggregator/aggregator_metrics.h"

namespace pulse::aggregator {

namespace {

constexpr const char* kEvents = "pulse_aggregator_events_total";
constexpr const char* kEventsHelp =
    "Activity messages read, by outcome (applied, duplicate: a replay "
    "skipped, ignored: a valid message that counts nothing, invalid: sent "
    "to the dead-letter topic)";
constexpr const char* kLate = "pulse_aggregator_late_events_total";
constexpr const char* kLateHelp =
    "Events older than a granularity's retention, counted only in coarser "
    "buckets";
constexpr const char* kAlerts = "pulse_aggregator_alerts_total";
constexpr const char* kAlertsHelp = "Alerts fired, by rule";

}  // namespace

AggregatorMetrics::AggregatorMetrics()
    : applied(CounterMetric(kEvents, kEventsHelp, {{"outcome", "applied"}})),
      duplicate(
          CounterMetric(kEvents, kEventsHelp, {{"outcome", "duplicate"}})),
      ignored(CounterMetric(kEvents, kEventsHelp, {{"outcome", "ignored"}})),
      invalid(CounterMetric(kEvents, kEventsHelp, {{"outcome", "invalid"}})),
      unpositioned(CounterMetric(
          "pulse_aggregator_unpositioned_events_total",
          "Events without a source position: replays of them cannot be "
          "recognised")),
      late_minute(CounterMetric(kLate, kLateHelp, {{"granularity", "minute"}})),
      late_hour(CounterMetric(kLate, kLateHelp, {{"granularity", "hour"}})),
      late_day(CounterMetric(kLate, kLateHelp, {{"granularity", "day"}})),
      rollup_messages(CounterMetric("pulse_aggregator_rollup_messages_total",
                                    "Rollup messages published")),
      rollup_bytes(CounterMetric("pulse_aggregator_rollup_bytes_total",
                                 "Bytes of rollup messages published")),
      alerts_suspicious(
          CounterMetric(kAlerts, kAlertsHelp, {{"rule", "suspicious_ip"}})),
      alerts_login(
          CounterMetric(kAlerts, kAlertsHelp, {{"rule", "login_burst"}})),
      flush_seconds(LatencyMetric("pulse_aggregator_flush_seconds",
                                  "Time to publish one flush")),
      state_bytes(GaugeMetric("pulse_aggregator_state_bytes",
                              "Local RocksDB state size")),
      partitions(GaugeMetric("pulse_aggregator_partitions",
                             "Activity partitions owned by this process")),
      proxy_suspected(GaugeMetric(
          "pulse_aggregator_proxy_suspected",
          "1 when one private address sends most traffic: Directus is "
          "likely behind a proxy it does not trust")),
      backpressure(GaugeMetric("pulse_aggregator_backpressure",
                               "1 while waiting for the sink to catch up")) {}

prometheus::Counter& AggregatorMetrics::Invalid(const std::string& reason) {
  return CounterMetric("pulse_aggregator_invalid_messages_total",
                       "Messages sent to the dead-letter topic, by reason",
                       {{"reason", reason}});
}

prometheus::Gauge& AggregatorMetrics::Lag(int32_t partition) {
  return GaugeMetric("pulse_aggregator_consumer_lag_messages",
                     "Messages in the partition not yet read",
                     {{"partition", std::to_string(partition)}});
}

}  // namespace pulse::aggregator
