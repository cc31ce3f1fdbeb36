// Fault injection for `pulse broker --faults`: POST endpoints on the
// broker's HTTP server that drive the mock cluster's fault API, so a chaos
// run can make the broker misbehave from outside the process.
//
//   POST /faults/errors?api=produce&code=NOT_LEADER_FOR_PARTITION&count=5
//        the next `count` requests of that API fail with `code` (a name
//        from rd_kafka_err2name or a number); api is one of produce,
//        fetch, list_offsets, metadata, commit, offset_fetch,
//        find_coordinator, join, heartbeat, sync
//   POST /faults/clear?api=produce       drops errors not yet served
//   POST /faults/broker?id=2&state=down  disconnects broker 2 and refuses
//                                        connections (state=up undoes it)
//   POST /faults/leader?topic=T&partition=3&broker=2
//   POST /faults/rtt?ms=200[&broker=2]   delays responses (all brokers
//                                        when none is named)
//
// Each answers 200 "ok ..." or 400 naming the bad parameter. The mock
// cluster queues these commands to its own thread, so the HTTP threads may
// call them at any time. Never enabled by default: a broker reachable by
// others must not be breakable by them.

#ifndef PULSE_CLI_BROKER_FAULTS_H_
#define PULSE_CLI_BROKER_FAULTS_H_

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/metrics.h"
#include "common/status.h"

typedef struct rd_kafka_mock_cluster_s rd_kafka_mock_cluster_t;

namespace pulse::cli {

struct FaultCommand {
  enum class Kind { kErrors, kClear, kBrokerDown, kBrokerUp, kLeader, kRtt };

  Kind kind = Kind::kErrors;
  int16_t api_key = 0;  // kErrors, kClear
  rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR;
  int count = 0;
  int32_t broker = 0;  // 0 in kRtt: every broker
  std::string topic;   // kLeader
  int32_t partition = 0;
  int rtt_ms = 0;
};

// Reads `op` (the path after /faults/) and its parameters; `brokers` is
// the cluster's size, for checking broker ids.
Result<FaultCommand> ParseFaultCommand(
    std::string_view op, const std::map<std::string, std::string>& params,
    int brokers);

// Carries the command out on `cluster`.
Status ApplyFault(rd_kafka_mock_cluster_t* cluster, const FaultCommand& c,
                  int brokers);

// One line describing `c`, for logs and answers.
std::string DescribeFault(const FaultCommand& c);

// Registers the /faults/* endpoints on `http`, before it starts.
void RegisterFaultEndpoints(HttpServer& http, rd_kafka_mock_cluster_t* cluster,
                            int brokers);

}  // namespace pulse::cli

#endif  // PULSE_CLI_BROKER_FAULTS_H_
