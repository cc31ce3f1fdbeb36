// Metrics and health, served over HTTP.
//
// One prometheus::Registry per process holds every component's metrics, so
// `pulse run` exposes one /metrics for all three stages. Metric names start
// with `pulse_`. Health is a set of named probes: a component registers
// itself, then reports whether it is alive (/healthz) and ready (/readyz).
//
// Everything here is thread-safe. HttpServer runs its own threads.

#ifndef PULSE_COMMON_METRICS_H_
#define PULSE_COMMON_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"

namespace httplib {
class Server;
}

namespace pulse {

using MetricLabels = std::map<std::string, std::string>;

// The process-wide registry.
prometheus::Registry& MetricsRegistry();

prometheus::Counter& CounterMetric(const std::string& name,
                                   const std::string& help,
                                   const MetricLabels& labels = {});
prometheus::Gauge& GaugeMetric(const std::string& name, const std::string& help,
                               const MetricLabels& labels = {});
// Buckets in seconds, for latencies.
prometheus::Histogram& LatencyMetric(const std::string& name,
                                     const std::string& help,
                                     const MetricLabels& labels = {});
// Buckets for sizes (rows, messages, bytes).
prometheus::Histogram& SizeMetric(const std::string& name,
                                  const std::string& help,
                                  const MetricLabels& labels = {});

// The Prometheus text exposition of the registry.
std::string SerializeMetrics();

// The sum of a counter's or gauge's series whose labels include `match`
// (0 if none), for progress lines that summarise several components.
double MetricSum(const std::string& name, const MetricLabels& match = {});

// Named health probes. A probe that was never marked ready keeps /readyz
// at 503; a probe marked unhealthy turns /healthz to 503.
class Health {
 public:
  static Health& Get();

  void Register(const std::string& name);
  void SetReady(const std::string& name, bool ready);
  void SetHealthy(const std::string& name, bool healthy,
                  const std::string& reason = "");

  // Body and verdict for the endpoints.
  bool Ready(std::string& body) const;
  bool Healthy(std::string& body) const;

 private:
  struct Probe {
    bool ready = false;
    bool healthy = true;
    std::string reason;
  };
  mutable std::mutex mu_;
  std::map<std::string, Probe> probes_;
};

// An answer of a handler registered with HttpServer::HandlePost.
struct HttpReply {
  int status = 200;
  std::string body;
};

// Serves /metrics, /healthz and /readyz on a background thread, and any
// POST handlers registered before Start().
class HttpServer {
 public:
  // Receives the request's query-string parameters.
  using PostHandler =
      std::function<HttpReply(const std::map<std::string, std::string>&)>;

  HttpServer();
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Answers POST `path` with `handler`, called on a server thread. Only
  // before Start(): handlers are not synchronised with serving.
  void HandlePost(const std::string& path, PostHandler handler);

  // Binds `bind:port` (port 0 picks a free one) and starts serving.
  Status Start(const std::string& bind, int port);
  void Stop();

  // The bound port, after Start().
  int port() const { return port_; }

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace pulse

#endif  // PULSE_COMMON_METRICS_H_
