#include "common/metrics.h"

#include <gtest/gtest.h>
#include <httplib.h>

namespace pulse {
namespace {

TEST(HttpServerTest, PostHandlerReceivesQueryParametersAndAnswers) {
  HttpServer server;
  std::map<std::string, std::string> seen;
  server.HandlePost("/poke", [&](const std::map<std::string, std::string>& p) {
    seen = p;
    return HttpReply{p.count("bad") ? 400 : 200, "answer\n"};
  });
  ASSERT_TRUE(server.Start("127.0.0.1", 0).ok());

  httplib::Client client("127.0.0.1", server.port());
  auto ok = client.Post("/poke?api=produce&count=3", "", "text/plain");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "answer\n");
  EXPECT_EQ(seen, (std::map<std::string, std::string>{{"api", "produce"},
                                                      {"count", "3"}}));

  auto refused = client.Post("/poke?bad=1", "", "text/plain");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 400);
  server.Stop();
}

TEST(HttpServerTest, BuiltInEndpointsStillServeBesidePostHandlers) {
  HttpServer server;
  server.HandlePost("/poke", [](const std::map<std::string, std::string>&) {
    return HttpReply{};
  });
  ASSERT_TRUE(server.Start("127.0.0.1", 0).ok());
  httplib::Client client("127.0.0.1", server.port());

  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  auto get_of_post_path = client.Get("/poke");
  ASSERT_TRUE(get_of_post_path);
  EXPECT_EQ(get_of_post_path->status, 404);
  auto unknown = client.Post("/elsewhere", "", "text/plain");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
}

}  // namespace
}  // namespace pulse
