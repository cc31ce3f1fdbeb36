// The harness itself: the server it starts is what the other tests assume.

#include <gtest/gtest.h>

#include "common/kafka.h"
#include "tests/harness/pg_server.h"

namespace pulse::testing {
namespace {

TEST(HarnessTest, PostgresHasLogicalWalAndHll) {
  PgServer& pg = SharedPgServer();
  std::string url = pg.CreateDatabase("harness");
  PgConn c = pg.Connect(url);
  auto wal = c.Exec("SHOW wal_level");
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  EXPECT_EQ(wal->Get(0, 0), "logical");
  ASSERT_TRUE(c.Run("CREATE EXTENSION hll").ok());
  auto h = c.Exec("SELECT hll_hash_text('abc')::text");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->Get(0, 0), "-5434086359492102041");
}

TEST(HarnessTest, WrongPasswordIsRefused) {
  PgServer& pg = SharedPgServer();
  auto c = PgConn::Connect(pg.UrlAs(PgServer::kSuperuser, "wrong", "postgres"),
                           "pulse-test");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(c.status().message().find("wrong"), std::string::npos)
      << "the password must not be echoed";
}

TEST(HarnessTest, EmbeddedBrokerServesMetadata) {
  auto broker = EmbeddedBroker::Start(
      {.brokers = 1, .partitions = 3, .topics = {"harness.topic"}});
  ASSERT_TRUE(broker.ok()) << broker.status().ToString();
  auto conf =
      MakeKafkaConf({{"bootstrap.servers", (*broker)->bootstrap()}}, {});
  ASSERT_TRUE(conf.ok());
  char err[256];
  KafkaHandle rk(
      rd_kafka_new(RD_KAFKA_PRODUCER, conf->release(), err, sizeof err));
  ASSERT_TRUE(rk);
  auto n = PartitionCount(rk.get(), "harness.topic", 5000);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 3);
}

}  // namespace
}  // namespace pulse::testing
