// IpAddress / Endpoint parsing and formatting.
#include "common/ip_address.h"

#include <gtest/gtest.h>

namespace eclb {
namespace {

TEST(IpAddressTest, ParsesAndFormatsBothFamilies) {
  auto v4 = IpAddress::parse("10.1.2.3");
  ASSERT_TRUE(v4.ok());
  EXPECT_TRUE(v4->is_v4());
  EXPECT_EQ(v4->bytes[0], 10);
  EXPECT_EQ(v4->bytes[3], 3);
  EXPECT_EQ(v4->bytes[4], 0);
  EXPECT_EQ(v4->to_string(), "10.1.2.3");
  auto v6 = IpAddress::parse("2001:DB8:0:0::1");
  ASSERT_TRUE(v6.ok());
  EXPECT_TRUE(v6->is_v6());
  EXPECT_EQ(v6->to_string(), "2001:db8::1");
}

TEST(IpAddressTest, RejectsGarbage) {
  for (const char* text : {"", "10.0.0", "10.0.0.256", "1.2.3.4 ", "fe80::1%eth0", "host.example", "::g"}) {
    EXPECT_FALSE(IpAddress::parse(text).ok()) << text;
  }
}

TEST(EndpointTest, ParsesIpv4AndBracketedIpv6) {
  auto a = Endpoint::parse("10.0.0.1:8080");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->port, 8080);
  EXPECT_EQ(a->to_string(), "10.0.0.1:8080");
  auto b = Endpoint::parse("[2001:db8::5]:443");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->to_string(), "[2001:db8::5]:443");
}

TEST(EndpointTest, RejectsBadPortsAndForms) {
  for (const char* text : {"10.0.0.1", "10.0.0.1:0", "10.0.0.1:65536", "10.0.0.1:-1", "10.0.0.1:80x", "2001:db8::1:80",
                           "[10.0.0.1]:80", "[2001:db8::1]80", ":80"}) {
    EXPECT_FALSE(Endpoint::parse(text).ok()) << text;
  }
}

TEST(EndpointTest, OrdersByAddressThenPort) {
  EXPECT_LT(*Endpoint::parse("10.0.0.1:90"), *Endpoint::parse("10.0.0.2:80"));
  EXPECT_LT(*Endpoint::parse("10.0.0.1:80"), *Endpoint::parse("10.0.0.1:90"));
}

}  // namespace
}  // namespace eclb
