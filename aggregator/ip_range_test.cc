// Addresses and CIDR blocks: the allow-list's IpRange and the proxy
// check's IsPrivateAddress, on what Directus may store in `ip`.

#include <gtest/gtest.h>

#include <string>

#include "aggregator/alerts.h"

namespace pulse::aggregator {
namespace {

TEST(IpRangeTest, ParsesAddressesAndBlocks) {
  struct Case {
    const char* text;
    int bits;
    bool v4;
  };
  const Case cases[] = {
      {"10.0.0.0/8", 8, true},
      {"203.0.113.7", 32, true},
      {"0.0.0.0/0", 0, true},
      {"192.168.1.0/25", 25, true},
      {"2001:db8::/32", 32, false},
      {"::1", 128, false},
      {"fc00::/7", 7, false},
      {"203.0.113.7:8080", 32, true},
      {"[2001:db8::1]:443", 128, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    auto r = IpRange::Parse(c.text);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->bits, c.bits);
    EXPECT_EQ(r->v4, c.v4);
  }
}

TEST(IpRangeTest, ParseErrorsNameTheBadText) {
  const char* bad[] = {
      "not-an-ip",      "",
      "10.0.0.0/33",    "10.0.0.0/",
      "10.0.0.0/8x",    "10.0.0.0/-1",
      "2001:db8::/129", "300.1.2.3",
      "10.0.0.0/8/8",   "/8",
      "1.2.3",          "10.0.0.0 /8",
  };
  for (const char* text : bad) {
    SCOPED_TRACE(text);
    auto r = IpRange::Parse(text);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find(std::string("'") + text + "'"),
              std::string::npos)
        << r.status().message();
    EXPECT_NE(r.status().message().find("alerts.allow_list"),
              std::string::npos);
  }
}

TEST(IpRangeTest, ContainsComparesOnlyThePrefix) {
  struct Case {
    const char* range;
    const char* ip;
    bool want;
  };
  const Case cases[] = {
      {"10.0.0.0/8", "10.255.1.2", true},
      {"10.0.0.0/8", "11.0.0.1", false},
      {"10.0.0.0/8", "10.1.2.3:5678", true},
      {"10.0.0.0/8", "::ffff:10.0.0.1", false},  // another family
      {"10.0.0.0/8", "not-an-ip", false},
      {"10.0.0.0/8", "", false},
      {"172.16.0.0/12", "172.31.255.255", true},
      {"172.16.0.0/12", "172.32.0.0", false},
      {"172.16.0.0/12", "172.15.255.255", false},
      {"192.168.1.0/25", "192.168.1.127", true},
      {"192.168.1.0/25", "192.168.1.128", false},
      {"203.0.113.7", "203.0.113.7", true},
      {"203.0.113.7", "203.0.113.7:80", true},
      {"203.0.113.7", "203.0.113.8", false},
      {"10.1.2.3/8", "10.9.9.9", true},  // host bits in the range are moot
      {"0.0.0.0/0", "8.8.8.8", true},
      {"0.0.0.0/0", "2001:db8::1", false},
      {"2001:db8::/32", "2001:db8:ffff::1", true},
      {"2001:db8::/32", "2001:db9::1", false},
      {"2001:db8::/32", "[2001:db8::1]:443", true},
      {"2001:db8::/32", "10.0.0.1", false},
      {"::/0", "::1", true},
      {"::1", "0:0:0:0:0:0:0:1", true},
      {"::1", "::2", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << c.range << " " << c.ip);
    auto r = IpRange::Parse(c.range);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->Contains(c.ip), c.want);
  }
}

TEST(IpRangeTest, AllowListMatchesAnyEntry) {
  AlertRules rules;
  EXPECT_FALSE(rules.Allowed("10.0.0.1")) << "empty list allows nothing";
  rules.allow = {*IpRange::Parse("10.0.0.0/8"), *IpRange::Parse("::1")};
  EXPECT_TRUE(rules.Allowed("10.0.0.1"));
  EXPECT_TRUE(rules.Allowed("::1"));
  EXPECT_FALSE(rules.Allowed("192.168.0.1"));
  EXPECT_FALSE(rules.Allowed("not-an-ip"));
}

TEST(IpAddressTest, PrivateAddressesAreRecognised) {
  struct Case {
    const char* ip;
    bool want;
  };
  const Case cases[] = {
      {"10.0.0.1", true},     {"10.255.255.255", true},
      {"172.16.0.1", true},   {"172.31.255.254", true},
      {"172.15.0.1", false},  {"172.32.0.1", false},
      {"192.168.0.1", true},  {"192.168.255.255:3000", true},
      {"192.169.0.1", false}, {"127.0.0.1", true},
      {"127.255.0.9", true},  {"::1", true},
      {"[::1]:8055", true},   {"fc00::1", true},
      {"fd12:3456::1", true}, {"fe80::1", false},
      {"8.8.8.8", false},     {"203.0.113.7", false},
      {"2001:db8::1", false}, {"::2", false},
      {"not-an-ip", false},   {"", false},
      {"10.0.0.1.5", false},  {"[10.0.0.1", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.ip);
    EXPECT_EQ(IsPrivateAddress(c.ip), c.want);
  }
}

TEST(IpAddressTest, ParsesAddressesWithPorts) {
  std::array<uint8_t, 16> a{};
  bool v4 = false;
  ASSERT_TRUE(ParseIpAddress("1.2.3.4:5678", a, v4));
  EXPECT_TRUE(v4);
  EXPECT_EQ(a[0], 1);
  EXPECT_EQ(a[3], 4);

  ASSERT_TRUE(ParseIpAddress("[2001:db8::7]:80", a, v4));
  EXPECT_FALSE(v4);
  EXPECT_EQ(a[0], 0x20);
  EXPECT_EQ(a[15], 7);

  EXPECT_FALSE(ParseIpAddress("1.2.3.4:5678:9", a, v4));
  EXPECT_FALSE(ParseIpAddress("localhost", a, v4));
}

}  // namespace
}  // namespace pulse::aggregator
