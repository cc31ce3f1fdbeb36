#include "cli/broker_faults.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <librdkafka/rdkafka_mock.h>

#include "common/kafka.h"

namespace pulse::cli {
namespace {

using Params = std::map<std::string, std::string>;

// The leader of `topic`[`partition`] as the cluster's metadata reports it.
int32_t LeaderOf(const std::string& bootstrap, const std::string& topic,
                 int32_t partition) {
  auto conf = MakeKafkaConf({{"bootstrap.servers", bootstrap}}, {});
  char err[256];
  KafkaHandle rk(
      rd_kafka_new(RD_KAFKA_PRODUCER, conf->release(), err, sizeof err));
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  int32_t leader = -1;
  if (rd_kafka_metadata(rk.get(), 0, t, &md, 10000) == 0) {
    if (md->topic_cnt == 1 && partition < md->topics[0].partition_cnt) {
      leader = md->topics[0].partitions[partition].leader;
    }
    rd_kafka_metadata_destroy(md);
  }
  rd_kafka_topic_destroy(t);
  return leader;
}

TEST(ParseFaultCommandTest, AcceptsEachCommand) {
  struct Case {
    std::string op;
    Params params;
    std::string described;
  };
  const Case cases[] = {
      {"errors",
       {{"api", "produce"},
        {"code", "NOT_LEADER_FOR_PARTITION"},
        {"count", "5"}},
       "errors api=produce code=NOT_LEADER_FOR_PARTITION count=5"},
      {"errors",
       {{"api", "commit"}, {"code", "16"}, {"count", "1"}},
       "errors api=commit code=NOT_COORDINATOR count=1"},
      {"clear", {{"api", "fetch"}}, "clear api=fetch"},
      {"broker", {{"id", "3"}, {"state", "down"}}, "broker id=3 state=down"},
      {"broker", {{"id", "1"}, {"state", "up"}}, "broker id=1 state=up"},
      {"leader",
       {{"topic", "t"}, {"partition", "2"}, {"broker", "2"}},
       "leader topic=t partition=2 broker=2"},
      {"rtt", {{"ms", "250"}}, "rtt broker=all ms=250"},
      {"rtt", {{"ms", "0"}, {"broker", "2"}}, "rtt broker=2 ms=0"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.described);
    auto parsed = ParseFaultCommand(c.op, c.params, 3);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(DescribeFault(*parsed), c.described);
  }
}

TEST(ParseFaultCommandTest, RefusesWithTheBadParameterNamed) {
  struct Case {
    std::string op;
    Params params;
    std::string named;
  };
  const Case cases[] = {
      {"explode", {}, "unknown fault explode"},
      {"errors", {{"code", "6"}, {"count", "1"}}, "missing parameter api"},
      {"errors",
       {{"api", "gossip"}, {"code", "6"}, {"count", "1"}},
       "api=gossip"},
      {"errors",
       {{"api", "fetch"}, {"code", "_TRANSPORT"}, {"count", "1"}},
       "code=_TRANSPORT"},
      {"errors", {{"api", "fetch"}, {"code", "6"}, {"count", "0"}}, "count=0"},
      {"broker", {{"id", "4"}, {"state", "down"}}, "id=4"},
      {"broker", {{"id", "1"}, {"state", "sideways"}}, "state=sideways"},
      {"leader",
       {{"topic", "t"}, {"partition", "x"}, {"broker", "1"}},
       "partition=x"},
      {"rtt", {{"ms", "-1"}}, "ms=-1"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.named);
    auto parsed = ParseFaultCommand(c.op, c.params, 3);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find(c.named), std::string::npos)
        << parsed.status().message();
  }
}

TEST(BrokerFaultsTest, LeaderMoveThroughHttpShowsInMetadata) {
  auto broker = EmbeddedBroker::Start(
      {.brokers = 3, .partitions = 4, .topics = {"moves"}});
  ASSERT_TRUE(broker.ok()) << broker.status().ToString();
  HttpServer http;
  RegisterFaultEndpoints(http, (*broker)->cluster(), 3);
  ASSERT_TRUE(http.Start("127.0.0.1", 0).ok());
  httplib::Client client("127.0.0.1", http.port());

  // Move partition 1 to each broker in turn.
  for (int target : {2, 3, 1}) {
    auto r = client.Post("/faults/leader?topic=moves&partition=1&broker=" +
                             std::to_string(target),
                         "", "text/plain");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(LeaderOf((*broker)->bootstrap(), "moves", 1), target);
  }

  // A bad command is refused with its reason.
  auto bad = client.Post("/faults/broker?id=9&state=down", "", "text/plain");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("id=9"), std::string::npos) << bad->body;
}

TEST(BrokerFaultsTest, PushedProduceErrorFailsTheNextProduceRequest) {
  auto broker =
      EmbeddedBroker::Start({.brokers = 3, .partitions = 1, .topics = {"t"}});
  ASSERT_TRUE(broker.ok()) << broker.status().ToString();
  auto c = ParseFaultCommand("errors",
                             {{"api", "produce"},
                              {"code", "TOPIC_AUTHORIZATION_FAILED"},
                              {"count", "1"}},
                             3);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(ApplyFault((*broker)->cluster(), *c, 3).ok());

  // A non-retriable error reaches the delivery report as it was injected.
  auto conf = MakeKafkaConf(
      {{"bootstrap.servers", (*broker)->bootstrap()}, {"linger.ms", "0"}}, {});
  rd_kafka_resp_err_t delivered = RD_KAFKA_RESP_ERR__BEGIN;
  rd_kafka_conf_set_opaque(conf->get(), &delivered);
  rd_kafka_conf_set_dr_msg_cb(
      conf->get(), [](rd_kafka_t*, const rd_kafka_message_t* m, void* op) {
        *static_cast<rd_kafka_resp_err_t*>(op) = m->err;
      });
  char err[256];
  KafkaHandle rk(
      rd_kafka_new(RD_KAFKA_PRODUCER, conf->release(), err, sizeof err));
  ASSERT_EQ(rd_kafka_producev(rk.get(), RD_KAFKA_V_TOPIC("t"),
                              RD_KAFKA_V_VALUE(const_cast<char*>("x"), 1),
                              RD_KAFKA_V_END),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_flush(rk.get(), 10000);
  EXPECT_EQ(delivered, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
}

}  // namespace
}  // namespace pulse::cli
