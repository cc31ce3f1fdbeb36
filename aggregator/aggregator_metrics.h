// The aggregator's Prometheus metrics, created once per process.

#ifndef PULSE_AGGREGATOR_AGGREGATOR_METRICS_H_
#define PULSE_AGGREGATOR_AGGREGATOR_METRICS_H_

#include <string>

#include "common/metrics.h"

namespace pulse::aggregator {

struct AggregatorMetrics {
  AggregatorMetrics();

  prometheus::Counter& applied;
  prometheus::Counter& duplicate;
  prometheus::Counter& ignored;
  prometheus::Counter& invalid;
  prometheus::Counter& unpositioned;
  prometheus::Counter& late_minute;
  prometheus::Counter& late_hour;
  prometheus::Counter& late_day;
  prometheus::Counter& rollup_messages;
  prometheus::Counter& rollup_bytes;
  prometheus::Counter& alerts_suspicious;
  prometheus::Counter& alerts_login;
  prometheus::Histogram& flush_seconds;
  prometheus::Gauge& state_bytes;
  prometheus::Gauge& partitions;
  prometheus::Gauge& proxy_suspected;
  prometheus::Gauge& backpressure;

  prometheus::Counter& Invalid(const std::string& reason);
  prometheus::Gauge& Lag(int32_t partition);
};

}  // namespace pulse::aggregator

#endif  // PULSE_AGGREGATOR_AGGREGATOR_METRICS_H_
