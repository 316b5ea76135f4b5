// Request heads: parsing limits and errors, and the head a gateway receives.
#include "control/l7/http_head.h"

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

TEST(HttpHeadTest, ResponsesAndHosts) {
  EXPECT_EQ(render_response(503, "Service Unavailable", "down\n"),
            "HTTP/1.1 503 Service Unavailable\r\nServer: eclb\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
            "Connection: close\r\n\r\ndown\n");
  EXPECT_EQ(host_without_port("example.com:8443"), "example.com");
  EXPECT_EQ(host_without_port("example.com"), "example.com");
  EXPECT_EQ(host_without_port("[2001:db8::1]:443"), "[2001:db8::1]");
}

}  // namespace
}  // namespace eclb::ctl
