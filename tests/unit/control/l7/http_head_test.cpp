// Request heads: parsing limits and errors, and the head a gateway receives.
#include "control/l7/http_head.h"
#include "control/l7/proxy_protocol.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace eclb::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Status = HeadParse::Status;

TEST(HttpHeadTest, ParsesAWebSocketUpgradeAndKeepsBodyBytesOutOfTheHead) {
  const std::string request =
      "GET /vm2/agent?id=7 HTTP/1.1\r\nHost: watchers.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\nFRAME";
  const HeadParse parse = parse_request_head(request, 16384);
  ASSERT_EQ(parse.status, Status::kComplete) << parse.error;
  EXPECT_EQ(parse.head.method, "GET");
  EXPECT_EQ(parse.head.target, "/vm2/agent?id=7");
  EXPECT_TRUE(parse.head.upgrade);
  EXPECT_EQ(parse.head_bytes, request.size() - 5);
  ASSERT_NE(parse.head.find("host"), nullptr);
  EXPECT_EQ(*parse.head.find("HOST"), "watchers.example.com");
  EXPECT_EQ(parse.head.find("X-Server-Select"), nullptr);
}

TEST(HttpHeadTest, IncompleteUntilTheBlankLineThenTooLargePastTheLimit) {
  EXPECT_EQ(parse_request_head("GET / HTTP/1.1\r\nHost: a\r\n", 64).status, Status::kIncomplete);
  const std::string big = "GET / HTTP/1.1\r\nX-Big: " + std::string(100, 'a');
  EXPECT_EQ(parse_request_head(big, 64).status, Status::kTooLarge);
  // Complete, but the head alone is over the limit.
  EXPECT_EQ(parse_request_head(big + "\r\n\r\n", 64).status, Status::kTooLarge);
}

TEST(HttpHeadTest, RejectsGarbageConnectAndAbsoluteTargets) {
  for (const char* bad : {"\x16\x03\x01\x02\x01\r\n\r\n", "GET / HTTP/2.0\r\n\r\n", "CONNECT a:443 HTTP/1.1\r\n\r\n",
                          "GET http://evil/ HTTP/1.1\r\nHost: a\r\n\r\n", "GET / HTTP/1.1\r\nBad Header\r\n\r\n"}) {
    const HeadParse parse = parse_request_head(bad, 1024);
    EXPECT_EQ(parse.status, Status::kBad) << bad;
    EXPECT_FALSE(parse.error.empty());
  }
}

TEST(HttpHeadTest, UpstreamHeadSetsForwardingHeadersAndDropsHopByHop) {
  const HeadParse parse = parse_request_head(
      "GET /vm1/agent HTTP/1.1\r\nHost: watchers.example.com\r\nX-Forwarded-For: 203.0.113.9\r\n"
      "X-Real-IP: 6.6.6.6\r\nX-Forwarded-Proto: gopher\r\nKeep-Alive: 300\r\nConnection: keep-alive\r\n"
      "Accept: */*\r\n\r\n",
      4096);
  ASSERT_EQ(parse.status, Status::kComplete);
  const std::string head = render_upstream_head(parse.head, {"192.0.2.7", true, "/agent"});
  EXPECT_EQ(head,
            "GET /agent HTTP/1.1\r\nHost: watchers.example.com\r\nAccept: */*\r\n"
            "X-Forwarded-For: 203.0.113.9, 192.0.2.7\r\nX-Real-IP: 192.0.2.7\r\nX-Forwarded-Proto: https\r\n"
            "Connection: close\r\n\r\n");
}

TEST(HttpHeadTest, UpstreamHeadOfAnUpgradeKeepsTheUpgrade) {
  const HeadParse parse = parse_request_head(
      "GET /agent HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n", 4096);
  ASSERT_EQ(parse.status, Status::kComplete);
  const std::string head = render_upstream_head(parse.head, {"2001:db8::7", false, "/agent"});
  EXPECT_THAT(head, HasSubstr("Upgrade: websocket\r\n"));
  EXPECT_THAT(head, HasSubstr("Connection: Upgrade\r\n"));
  EXPECT_THAT(head, HasSubstr("X-Forwarded-For: 2001:db8::7\r\n"));
  EXPECT_THAT(head, HasSubstr("X-Forwarded-Proto: http\r\n"));
  EXPECT_THAT(head, Not(HasSubstr("keep-alive")));
}

TEST(HttpHeadTest, TheClientGetsItsOwnConnectionHeaderInTheFinalHeadOnly) {
  const std::string start =
      "HTTP/1.1 100 Continue\r\nConnection: keep-alive\r\n\r\n"
      "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 2\r\nConnection: close\r\nKeep-Alive: timeout=5\r\n\r\n"
      "ok";
  EXPECT_EQ(client_response_head(start, true),
            "HTTP/1.1 100 Continue\r\nConnection: keep-alive\r\n\r\n"
            "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok");
  EXPECT_EQ(client_response_head("HTTP/1.1 200 OK\nContent-Length: 0\n\n", false),
            "HTTP/1.1 200 OK\nContent-Length: 0\nConnection: close\r\n\n")
      << "bare LF heads (RFC 9112 2.2) are rewritten too";
}

TEST(HttpHeadTest, ResponsesAndHosts) {
  EXPECT_EQ(render_response(503, "Service Unavailable", "down\n"),
            "HTTP/1.1 503 Service Unavailable\r\nServer: eclb\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
            "Connection: close\r\n\r\ndown\n");
  EXPECT_EQ(host_without_port("example.com:8443"), "example.com");
  EXPECT_EQ(host_without_port("example.com"), "example.com");
  EXPECT_EQ(host_without_port("[2001:db8::1]:443"), "[2001:db8::1]");
}

TEST(ProxyProtocolTest, Version2HeaderForIpv4AndIpv6) {
  const std::string v4 = proxy_protocol_v2(*Endpoint::parse("192.0.2.7:40000"), *Endpoint::parse("10.0.0.100:443"));
  const std::string expected4("\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c"
                              "\xc0\x00\x02\x07\x0a\x00\x00\x64\x9c\x40\x01\xbb",
                              28);
  EXPECT_EQ(v4, expected4);
  const std::string v6 = proxy_protocol_v2(*Endpoint::parse("[2001:db8::7]:1"), *Endpoint::parse("[2001:db8::100]:443"));
  ASSERT_EQ(v6.size(), 16u + 36u);
  EXPECT_EQ(v6.substr(12, 4), std::string("\x21\x21\x00\x24", 4));
  // Source 2001:db8::7 at 16-31, destination 2001:db8::100 at 32-47.
  EXPECT_EQ(v6.substr(16, 2), std::string("\x20\x01", 2));
  EXPECT_EQ(static_cast<uint8_t>(v6.at(31)), 0x07);
  EXPECT_EQ(v6.substr(46, 2), std::string("\x01\x00", 2));
  EXPECT_EQ(v6.substr(48, 4), std::string("\x00\x01\x01\xbb", 4));  // ports 1 and 443
}

}  // namespace
}  // namespace eclb::ctl
