#include "common/metrics.h"

#include <fmt/format.h>
#include <httplib.h>
#include <prometheus/text_serializer.h>

#include <sstream>

namespace pulse {

prometheus::Registry& MetricsRegistry() {
  static auto* registry = new prometheus::Registry();
  return *registry;
}

prometheus::Counter& CounterMetric(const std::string& name,
                                   const std::string& help,
                                   const MetricLabels& labels) {
  return prometheus::BuildCounter()
      .Name(name)
      .Help(help)
      .Register(MetricsRegistry())
      .Add(labels);
}

prometheus::Gauge& GaugeMetric(const std::string& name, const std::string& help,
                               const MetricLabels& labels) {
  return prometheus::BuildGauge()
      .Name(name)
      .Help(help)
      .Register(MetricsRegistry())
      .Add(labels);
}

prometheus::Histogram& LatencyMetric(const std::string& name,
                                     const std::string& help,
                                     const MetricLabels& labels) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
      0.25,  0.5,    1.0,   2.5,  5.0,   10.0, 30.0};
  return prometheus::BuildHistogram()
      .Name(name)
      .Help(help)
      .Register(MetricsRegistry())
      .Add(labels, kBuckets);
}

prometheus::Histogram& SizeMetric(const std::string& name,
                                  const std::string& help,
                                  const MetricLabels& labels) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      1, 10, 100, 1000, 10000, 100000, 1000000};
  return prometheus::BuildHistogram()
      .Name(name)
      .Help(help)
      .Register(MetricsRegistry())
      .Add(labels, kBuckets);
}

std::string SerializeMetrics() {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, MetricsRegistry().Collect());
  return out.str();
}

double MetricSum(const std::string& name, const MetricLabels& match) {
  double sum = 0;
  for (const prometheus::MetricFamily& f : MetricsRegistry().Collect()) {
    if (f.name != name) {
      continue;
    }
    for (const prometheus::ClientMetric& m : f.metric) {
      size_t matched = 0;
      for (const prometheus::ClientMetric::Label& l : m.label) {
        auto it = match.find(l.name);
        matched += it != match.end() && it->second == l.value;
      }
      if (matched == match.size()) {
        sum += f.type == prometheus::MetricType::Counter ? m.counter.value
                                                         : m.gauge.value;
      }
    }
  }
  return sum;
}

Health& Health::Get() {
  static auto* health = new Health();
  return *health;
}

void Health::Register(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  probes_.try_emplace(name);
}

void Health::SetReady(const std::string& name, bool ready) {
  std::lock_guard<std::mutex> lock(mu_);
  probes_[name].ready = ready;
}

void Health::SetHealthy(const std::string& name, bool healthy,
                        const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  Probe& p = probes_[name];
  p.healthy = healthy;
  p.reason = reason;
}

bool Health::Ready(std::string& body) const {
  std::lock_guard<std::mutex> lock(mu_);
  bool all = !probes_.empty();
  for (const auto& [name, p] : probes_) {
    all = all && p.ready && p.healthy;
    body += fmt::format("{} {}\n", name, p.ready ? "ready" : "not_ready");
  }
  return all;
}

bool Health::Healthy(std::string& body) const {
  std::lock_guard<std::mutex> lock(mu_);
  bool all = true;
  for (const auto& [name, p] : probes_) {
    all = all && p.healthy;
    body += fmt::format("{} {}{}\n", name, p.healthy ? "ok" : "failing",
                        p.reason.empty() ? "" : " reason=" + p.reason);
  }
  return all;
}

HttpServer::HttpServer() : server_(std::make_unique<httplib::Server>()) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::HandlePost(const std::string& path, PostHandler handler) {
  server_->Post(path, [handler = std::move(handler)](
                          const httplib::Request& req, httplib::Response& r) {
    // Query-string parameters; a repeated one keeps its last value.
    std::map<std::string, std::string> params;
    for (const auto& [key, value] : req.params) {
      params[key] = value;
    }
    HttpReply reply = handler(params);
    r.status = reply.status;
    r.set_content(reply.body, "text/plain");
  });
}

Status HttpServer::Start(const std::string& bind, int port) {
  server_->Get("/metrics", [](const httplib::Request&, httplib::Response& r) {
    r.set_content(SerializeMetrics(), "text/plain; version=0.0.4");
  });
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& r) {
    std::string body;
    r.status = Health::Get().Healthy(body) ? 200 : 503;
    r.set_content(body, "text/plain");
  });
  server_->Get("/readyz", [](const httplib::Request&, httplib::Response& r) {
    std::string body;
    r.status = Health::Get().Ready(body) ? 200 : 503;
    r.set_content(body, "text/plain");
  });

  if (port == 0) {
    port_ = server_->bind_to_any_port(bind);
  } else {
    port_ = server_->bind_to_port(bind, port) ? port : -1;
  }
  if (port_ <= 0) {
    return Status::Unavailable(
        fmt::format("http.port: cannot listen on {}:{}; pick a free port or 0",
                    bind, port));
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });

  // stop() before the accept loop runs would be lost and Stop() would
  // hang: return only once it runs.
  for (int i = 0; i < 500 && !server_->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Status::Ok();
}

void HttpServer::Stop() {
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
}

}  // namespace pulse
