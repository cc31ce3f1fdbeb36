#include "cli/broker_faults.h"

#include <fmt/format.h>
#include <librdkafka/rdkafka_mock.h>

#include <charconv>
#include <vector>

#include "common/kafka.h"
#include "common/log.h"

namespace pulse::cli {

namespace {

// Kafka protocol API keys a fault may target (the protocol's numbering).
struct ApiName {
  std::string_view name;
  int16_t key;
};
constexpr ApiName kApis[] = {
    {"produce", 0},
    {"fetch", 1},
    {"list_offsets", 2},
    {"metadata", 3},
    {"commit", 8},
    {"offset_fetch", 9},
    {"find_coordinator", 10},
    {"join", 11},
    {"heartbeat", 12},
    {"sync", 14},
};

std::string_view ApiNameOf(int16_t key) {
  for (const ApiName& a : kApis) {
    if (a.key == key) {
      return a.name;
    }
  }
  return "unknown";
}

Result<std::string> Param(const std::map<std::string, std::string>& params,
                          const std::string& name) {
  auto it = params.find(name);
  if (it == params.end() || it->second.empty()) {
    return Status::InvalidArgument(fmt::format("missing parameter {}", name));
  }
  return it->second;
}

Result<int64_t> IntParam(const std::map<std::string, std::string>& params,
                         const std::string& name, int64_t lo, int64_t hi) {
  PULSE_ASSIGN_OR_RETURN(std::string text, Param(params, name));
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < lo ||
      v > hi) {
    return Status::InvalidArgument(
        fmt::format("parameter {}={}: expected an integer in [{}, {}]", name,
                    text, lo, hi));
  }
  return v;
}

Result<int16_t> ApiParam(const std::map<std::string, std::string>& params) {
  PULSE_ASSIGN_OR_RETURN(std::string text, Param(params, "api"));
  for (const ApiName& a : kApis) {
    if (a.name == text) {
      return a.key;
    }
  }
  return Status::InvalidArgument(fmt::format(
      "parameter api={}: expected produce, fetch, list_offsets, metadata, "
      "commit, offset_fetch, find_coordinator, join, heartbeat or sync",
      text));
}

// An error code by librdkafka's name ("NOT_LEADER_FOR_PARTITION") or
// number; only codes a broker can send, never local ones.
Result<rd_kafka_resp_err_t> ErrorParam(
    const std::map<std::string, std::string>& params) {
  PULSE_ASSIGN_OR_RETURN(std::string text, Param(params, "code"));
  const rd_kafka_err_desc* descs = nullptr;
  size_t n = 0;
  rd_kafka_get_err_descs(&descs, &n);
  for (size_t i = 0; i < n; ++i) {
    if (descs[i].name == nullptr || descs[i].code <= 0) {
      continue;
    }
    if (text == descs[i].name || text == std::to_string(descs[i].code)) {
      return descs[i].code;
    }
  }
  return Status::InvalidArgument(
      fmt::format("parameter code={}: not a broker error code (a name such as "
                  "NOT_LEADER_FOR_PARTITION, or its number)",
                  text));
}

}  // namespace

Result<FaultCommand> ParseFaultCommand(
    std::string_view op, const std::map<std::string, std::string>& params,
    int brokers) {
  FaultCommand c;
  if (op == "errors") {
    c.kind = FaultCommand::Kind::kErrors;
    PULSE_ASSIGN_OR_RETURN(c.api_key, ApiParam(params));
    PULSE_ASSIGN_OR_RETURN(c.error, ErrorParam(params));
    PULSE_ASSIGN_OR_RETURN(int64_t count, IntParam(params, "count", 1, 10000));
    c.count = static_cast<int>(count);
    return c;
  }
  if (op == "clear") {
    c.kind = FaultCommand::Kind::kClear;
    PULSE_ASSIGN_OR_RETURN(c.api_key, ApiParam(params));
    return c;
  }
  if (op == "broker") {
    PULSE_ASSIGN_OR_RETURN(int64_t id, IntParam(params, "id", 1, brokers));
    PULSE_ASSIGN_OR_RETURN(std::string state, Param(params, "state"));
    if (state != "down" && state != "up") {
      return Status::InvalidArgument(
          fmt::format("parameter state={}: expected down or up", state));
    }
    c.kind = state == "down" ? FaultCommand::Kind::kBrokerDown
                             : FaultCommand::Kind::kBrokerUp;
    c.broker = static_cast<int32_t>(id);
    return c;
  }
  if (op == "leader") {
    c.kind = FaultCommand::Kind::kLeader;
    PULSE_ASSIGN_OR_RETURN(c.topic, Param(params, "topic"));
    PULSE_ASSIGN_OR_RETURN(int64_t p, IntParam(params, "partition", 0, 100000));
    PULSE_ASSIGN_OR_RETURN(int64_t b, IntParam(params, "broker", 1, brokers));
    c.partition = static_cast<int32_t>(p);
    c.broker = static_cast<int32_t>(b);
    return c;
  }
  if (op == "rtt") {
    c.kind = FaultCommand::Kind::kRtt;
    PULSE_ASSIGN_OR_RETURN(int64_t ms, IntParam(params, "ms", 0, 60000));
    c.rtt_ms = static_cast<int>(ms);
    if (params.count("broker") > 0) {
      PULSE_ASSIGN_OR_RETURN(int64_t b, IntParam(params, "broker", 1, brokers));
      c.broker = static_cast<int32_t>(b);
    }
    return c;
  }
  return Status::InvalidArgument(fmt::format(
      "unknown fault {}: expected errors, clear, broker, leader or rtt", op));
}

Status ApplyFault(rd_kafka_mock_cluster_t* cluster, const FaultCommand& c,
                  int brokers) {
  switch (c.kind) {
    case FaultCommand::Kind::kErrors: {
      std::vector<rd_kafka_resp_err_t> errors(static_cast<size_t>(c.count),
                                              c.error);
      rd_kafka_mock_push_request_errors_array(cluster, c.api_key, errors.size(),
                                              errors.data());
      return Status::Ok();
    }
    case FaultCommand::Kind::kClear:
      rd_kafka_mock_clear_request_errors(cluster, c.api_key);
      return Status::Ok();
    case FaultCommand::Kind::kBrokerDown:
      return KafkaStatus(rd_kafka_mock_broker_set_down(cluster, c.broker),
                         "broker down");
    case FaultCommand::Kind::kBrokerUp:
      return KafkaStatus(rd_kafka_mock_broker_set_up(cluster, c.broker),
                         "broker up");
    case FaultCommand::Kind::kLeader:
      return KafkaStatus(rd_kafka_mock_partition_set_leader(
                             cluster, c.topic.c_str(), c.partition, c.broker),
                         fmt::format("leader of {}[{}]", c.topic, c.partition));
    case FaultCommand::Kind::kRtt:
      for (int32_t b = 1; b <= brokers; ++b) {
        if (c.broker == 0 || c.broker == b) {
          PULSE_RETURN_IF_ERROR(KafkaStatus(
              rd_kafka_mock_broker_set_rtt(cluster, b, c.rtt_ms), "rtt"));
        }
      }
      return Status::Ok();
  }
  return Status::Internal("unhandled fault kind");
}

std::string DescribeFault(const FaultCommand& c) {
  switch (c.kind) {
    case FaultCommand::Kind::kErrors:
      return fmt::format("errors api={} code={} count={}", ApiNameOf(c.api_key),
                         rd_kafka_err2name(c.error), c.count);
    case FaultCommand::Kind::kClear:
      return fmt::format("clear api={}", ApiNameOf(c.api_key));
    case FaultCommand::Kind::kBrokerDown:
      return fmt::format("broker id={} state=down", c.broker);
    case FaultCommand::Kind::kBrokerUp:
      return fmt::format("broker id={} state=up", c.broker);
    case FaultCommand::Kind::kLeader:
      return fmt::format("leader topic={} partition={} broker={}", c.topic,
                         c.partition, c.broker);
    case FaultCommand::Kind::kRtt:
      return fmt::format("rtt broker={} ms={}",
                         c.broker == 0 ? "all" : std::to_string(c.broker),
                         c.rtt_ms);
  }
  return "unknown";
}

void RegisterFaultEndpoints(HttpServer& http, rd_kafka_mock_cluster_t* cluster,
                            int brokers) {
  for (std::string op : {"errors", "clear", "broker", "leader", "rtt"}) {
    http.HandlePost(
        "/faults/" + op, [op, cluster, brokers](
                             const std::map<std::string, std::string>& params) {
          // Parse, apply, and say what happened in the log and the answer.
          static const Logger log("broker");
          auto c = ParseFaultCommand(op, params, brokers);
          Status st = c.ok() ? ApplyFault(cluster, *c, brokers) : c.status();
          if (!st.ok()) {
            log.Warn("fault_refused", {{"op", op}, {"error", st.message()}});
            return HttpReply{400, st.message() + "\n"};
          }
          std::string what = DescribeFault(*c);
          log.Info("fault_injected", {{"fault", what}});
          return HttpReply{200, "ok " + what + "\n"};
        });
  }
}

}  // namespace pulse::cli
