// The aggregator from the embedded broker, end to end: librdkafka fetches
// the activity messages, the consume loop parses and applies them, and each
// flush produces its rollup message back to the broker (lz4, as the
// aggregator does) and commits RocksDB. Wall time, so the client's and the
// broker's threads count. Target: >= 150k events/s.
//
// The embedded broker keeps ~5 MiB per partition, so every timed round
// reads one chunk produced (untimed) just before it.

#include <benchmark/benchmark.h>
#include <librdkafka/rdkafka.h>

#include <string>

#include "bench/aggregator_partition.h"
#include "common/kafka.h"

namespace pulse::aggregator::bench {
namespace {

constexpr size_t kChunk = 12'000;  // ~4 MB of activity messages
constexpr char kRollups[] = "directus.activity.rollups";
constexpr size_t kMaxBatchBytes = 900'000;  // the default cap

KafkaHandle Client(rd_kafka_type_t type,
                   const std::map<std::string, std::string>& settings) {
  auto conf = MakeKafkaConf(settings, {});
  Check(conf.status(), "kafka configuration");
  char err[512];
  KafkaHandle rk(rd_kafka_new(type, conf->release(), err, sizeof err));
  if (!rk) {
    Check(Status::Internal(err), "kafka client");
  }
  return rk;
}

void Produce(rd_kafka_t* producer, const char* topic, const std::string& v) {
  while (true) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
        RD_KAFKA_V_VALUE(const_cast<char*>(v.data()), v.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      Check(KafkaStatus(err, "produce"), "produce");
      return;
    }
    rd_kafka_poll(producer, 10);
  }
}

void BM_FromEmbeddedBroker(benchmark::State& state) {
  auto broker = EmbeddedBroker::Start(
      {.brokers = 1, .partitions = 1, .topics = {std::string(kTopic)}});
  Check(broker.status(), "embedded broker");
  Check((*broker)->CreateTopic(kRollups, 1), "rollups topic");
  const std::string& bootstrap = (*broker)->bootstrap();
  KafkaHandle feeder =
      Client(RD_KAFKA_PRODUCER, {{"bootstrap.servers", bootstrap},
                                 {"compression.type", "lz4"},
                                 {"linger.ms", "5"}});
  KafkaHandle producer =
      Client(RD_KAFKA_PRODUCER, {{"bootstrap.servers", bootstrap},
                                 {"enable.idempotence", "true"},
                                 {"acks", "all"},
                                 {"compression.type", "lz4"},
                                 {"linger.ms", "5"},
                                 {"message.max.bytes", "4000000"}});
  KafkaHandle consumer =
      Client(RD_KAFKA_CONSUMER, {{"bootstrap.servers", bootstrap},
                                 {"group.id", "pulse-aggregator-bench"},
                                 {"enable.auto.commit", "false"},
                                 {"fetch.wait.max.ms", "20"}});
  rd_kafka_poll_set_consumer(consumer.get());
  KafkaPartitionList assignment(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(assignment.get(), kTopic.data(), 0)
      ->offset = RD_KAFKA_OFFSET_BEGINNING;
  Check(
      KafkaStatus(rd_kafka_assign(consumer.get(), assignment.get()), "assign"),
      "assign");

  Partition partition(WarmAlerts());
  EventParser parser;
  TempStore store;
  ParsedEvent e;
  const Corpus& corpus = GetCorpus();
  size_t produced = kWarmEvents, consumed = kWarmEvents;
  for (auto _ : state) {
    // A chunk in the broker, untimed.
    state.PauseTiming();
    for (size_t k = 0; k < kChunk; ++k, ++produced) {
      Produce(feeder.get(), kTopic.data(),
              corpus.messages[produced % kMessages]);
    }
    Check(KafkaStatus(rd_kafka_flush(feeder.get(), 30'000), "flush"),
          "flush the feeder");
    state.ResumeTiming();

    // Read it as the aggregator does; flush at the default cap.
    for (size_t read = 0; read < kChunk;) {
      KafkaMessage m(rd_kafka_consumer_poll(consumer.get(), 100));
      if (!m || m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        continue;
      }
      Check(KafkaStatus(m->err, "consume"), "consume");  // never skip
      ++read;
      size_t i = consumed++;
      if (i % kMessages == 0) {
        partition.StartLap();
      }
      std::string_view value(static_cast<const char*>(m->payload), m->len);
      if (parser.Parse(value, e).outcome == ParseOutcome::kEvent) {
        e.time += static_cast<int64_t>(i / kMessages) * corpus.span_ms;
        partition.Apply(e, e.time);
      }
      if (partition.pending_bytes() > kMaxBatchBytes) {
        partition.Flush(*store);
        Produce(producer.get(), kRollups, partition.message());
      }
      rd_kafka_poll(producer.get(), 0);
    }
  }
  Check(KafkaStatus(rd_kafka_flush(producer.get(), 30'000), "flush"),
        "flush the rollups");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(kChunk));
  ReportFlushes(state, partition.profile());
}
BENCHMARK(BM_FromEmbeddedBroker)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace pulse::aggregator::bench
