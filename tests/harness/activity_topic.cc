#include "tests/harness/activity_topic.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <simdjson.h>

#include "common/kafka.h"

namespace pulse::testing {

namespace {

void ParseValue(ActivityMessage& m) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(m.value).get(doc)) {
    ADD_FAILURE() << "not JSON: " << m.value;
    return;
  }
  int64_t id;
  if (!doc["id"].get_int64().get(id)) {
    m.id = id;
  }
  std::string_view text;
  if (!doc["source"]["commit_lsn"].get_string().get(text)) {
    m.commit_lsn = Lsn::Parse(text).value_or(Lsn());
  }
  if (!doc["source"]["lsn"].get_string().get(text)) {
    m.lsn = Lsn::Parse(text).value_or(Lsn());
  }
  bool snapshot = false;
  if (!doc["source"]["snapshot"].get_bool().get(snapshot)) {
    m.snapshot = snapshot;
  }
}

}  // namespace

std::vector<ActivityMessage> ReadActivityTopic(const std::string& bootstrap,
                                               const std::string& topic,
                                               std::chrono::milliseconds idle,
                                               bool parse) {
  auto conf = MakeKafkaConf({{"bootstrap.servers", bootstrap},
                             {"group.id", "pulse-test-reader"},
                             {"enable.auto.commit", "false"},
                             {"enable.partition.eof", "false"}},
                            {});
  EXPECT_TRUE(conf.ok());
  char err[256];
  KafkaHandle rk(
      rd_kafka_new(RD_KAFKA_CONSUMER, conf->release(), err, sizeof err));
  auto partitions = PartitionCount(rk.get(), topic, 10000);
  EXPECT_TRUE(partitions.ok()) << partitions.status().ToString();

  // Assign every partition from the beginning; no group membership.
  KafkaPartitionList list(rd_kafka_topic_partition_list_new(*partitions));
  for (int p = 0; p < *partitions; ++p) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk.get(), list.get());

  std::vector<ActivityMessage> out;
  auto last = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - last < idle) {
    KafkaMessage msg(rd_kafka_consumer_poll(rk.get(), 100));
    if (!msg || msg->err) {
      continue;
    }
    last = std::chrono::steady_clock::now();
    ActivityMessage m;
    m.partition = msg->partition;
    m.offset = msg->offset;
    m.key.assign(static_cast<const char*>(msg->key), msg->key_len);
    m.value.assign(static_cast<const char*>(msg->payload), msg->len);
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(msg.get(), &headers) == 0) {
      const char* name;
      const void* value;
      size_t size;
      for (size_t i = 0;
           rd_kafka_header_get_all(headers, i, &name, &value, &size) == 0;
           ++i) {
        m.headers[name] = std::string(static_cast<const char*>(value), size);
      }
    }
    if (parse) {
      ParseValue(m);
    }
    out.push_back(std::move(m));
  }
  rd_kafka_consumer_close(rk.get());
  return out;
}

ReplayCheck ApplyReplayRule(const std::vector<ActivityMessage>& messages) {
  ReplayCheck check;
  std::map<int32_t, std::tuple<Lsn, Lsn, int64_t>> high;
  for (const ActivityMessage& m : messages) {
    auto it = high.find(m.partition);
    if (it != high.end() && m.position() <= it->second) {
      ++check.replays;
      continue;
    }
    high[m.partition] = m.position();
    if (m.id) {
      ++check.applied[*m.id];
    }
  }
  return check;
}

}  // namespace pulse::testing
