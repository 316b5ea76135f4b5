// Incremental request and response framing: what reaches a gateway is exactly one
// request, parsed once however it arrives; a response's head is known complete before a
// byte goes to the client, and its end is known.
#include "control/l7/http_message.h"

#include <gtest/gtest.h>

#include <string>

namespace eclb::ctl {
namespace {

using RState = RequestParser::State;
using AState = ResponseParser::State;

TEST(RequestParserTest, AHeadFedOneByteAtATimeIsParsedOnce) {
  const std::string request = "GET /vm2/agent HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(16000, 'x') + "\r\n\r\n";
  RequestParser parser(16384);
  size_t taken = 0;
  for (size_t i = 0; i < request.size() && parser.state() == RState::kHead; ++i) taken += parser.feed(request.substr(i, 1));
  ASSERT_EQ(parser.state(), RState::kComplete) << parser.error();
  EXPECT_EQ(taken, request.size());
  EXPECT_EQ(parser.head().target, "/vm2/agent");
  EXPECT_EQ(parser.head().find("X-Big")->size(), 16000u);
}

TEST(RequestParserTest, BareLineFeedsEndTheHeadAsCrlfDoes) {
  // RFC 9112 §2.2: a recipient may take a bare LF as a line terminator; nginx does.
  RequestParser parser(4096);
  const std::string request = "GET /a HTTP/1.1\nHost: a\n\nGET /smuggled HTTP/1.1\r\n\r\n";
  const size_t taken = parser.feed(request);
  ASSERT_EQ(parser.state(), RState::kComplete) << parser.error();
  EXPECT_EQ(parser.head().target, "/a");
  EXPECT_EQ(request.substr(taken), "GET /smuggled HTTP/1.1\r\n\r\n") << "the next request is not this one's";
}

TEST(RequestParserTest, BadHeaderNamesAreRefusedAndUnderscoresDropped) {
  RequestParser spaced(4096);
  spaced.feed("GET / HTTP/1.1\r\nHost: a\r\nX-Real-IP : 6.6.6.6\r\n\r\n");
  EXPECT_EQ(spaced.state(), RState::kBad) << "a name with a space: 400, as nginx";
  RequestParser underscore(4096);
  underscore.feed("GET / HTTP/1.1\r\nHost: a\r\nX_Real_IP: 6.6.6.6\r\nX-Ok: 1\r\n\r\n");
  ASSERT_EQ(underscore.state(), RState::kComplete);
  EXPECT_EQ(underscore.head().find("X_Real_IP"), nullptr) << "dropped, as nginx's default";
  EXPECT_NE(underscore.head().find("X-Ok"), nullptr);
}

TEST(RequestParserTest, OnlyAWebSocketUpgradeIsAnUpgrade) {
  RequestParser websocket(4096);
  websocket.feed("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\r\n");
  EXPECT_TRUE(websocket.head().upgrade);
  RequestParser h2c(4096);
  h2c.feed("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n");
  EXPECT_FALSE(h2c.head().upgrade);
  const std::string upstream = render_upstream_head(h2c.head(), {"192.0.2.1", false, "/"});
  EXPECT_EQ(upstream.find("Upgrade"), std::string::npos) << upstream;
}

TEST(RequestParserTest, ABodyIsFramedAndWhatFollowsItIsNotTaken) {
  RequestParser parser(4096);
  const std::string head = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n";
  EXPECT_EQ(parser.feed(head + "he"), head.size()) << "the head first; the body when asked";
  EXPECT_EQ(parser.state(), RState::kBody);
  EXPECT_EQ(parser.feed("he"), 2u);
  EXPECT_EQ(parser.feed("lloGET /evil HTTP/1.1\r\n\r\n"), 3u);
  EXPECT_EQ(parser.state(), RState::kComplete);
  EXPECT_EQ(parser.feed("more"), 0u);

  RequestParser chunked(4096);
  const std::string chunked_head = "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  EXPECT_EQ(chunked.feed(chunked_head), chunked_head.size());
  const std::string body = "3\r\nabc\r\n0\r\n\r\n";
  EXPECT_EQ(chunked.feed(body + "junk"), body.size());
  EXPECT_EQ(chunked.state(), RState::kComplete);
}

TEST(RequestParserTest, KeepAliveAsTheClientAsksAndResetForTheNextRequest) {
  RequestParser parser(4096);
  parser.feed("GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_TRUE(parser.keep_alive()) << "HTTP/1.1 keeps the connection by default";
  parser.reset();
  EXPECT_EQ(parser.state(), RState::kHead);
  parser.feed("GET /b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(parser.head().target, "/b") << "nothing of the first request is left";
  EXPECT_EQ(parser.head().headers.size(), 2u);
  EXPECT_FALSE(parser.keep_alive());
  parser.reset();
  parser.feed("GET /c HTTP/1.0\r\n\r\n");
  EXPECT_FALSE(parser.keep_alive()) << "HTTP/1.0 closes unless it asks for keep-alive";
}

TEST(RequestParserTest, TheHeadLimitHolds) {
  RequestParser parser(64);
  parser.feed("GET / HTTP/1.1\r\nX-Big: " + std::string(100, 'a'));
  EXPECT_EQ(parser.state(), RState::kTooLarge);
}

TEST(ResponseParserTest, A101IsCompleteAtItsHeadAndTheRestIsTheTunnels) {
  ResponseParser parser(4096, false);
  const std::string head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
  EXPECT_EQ(parser.feed(head + "\x81\x02hi"), head.size());
  EXPECT_EQ(parser.state(), AState::kComplete);
  EXPECT_EQ(parser.status(), 101);
}

TEST(ResponseParserTest, AHeadCutShortStaysIncomplete) {
  ResponseParser parser(4096, false);
  parser.feed("HTTP/1.1 101 Switching Protocols\r\nUpgr");
  parser.end_of_input();
  EXPECT_EQ(parser.state(), AState::kHead) << "the proxy answers 502: no truncated head reaches the client";
}

TEST(ResponseParserTest, BodiesEndByLengthByChunksOrByTheClose) {
  ResponseParser sized(4096, false);
  const std::string response = "HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nbad";
  EXPECT_EQ(sized.feed(response + "HTTP/1.1 200 OK\r\n\r\n"), response.size());
  EXPECT_EQ(sized.state(), AState::kComplete);
  EXPECT_EQ(sized.status(), 400);

  ResponseParser interim(4096, false);
  const std::string two = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
  EXPECT_EQ(interim.feed(two), two.size());
  EXPECT_EQ(interim.state(), AState::kComplete);
  EXPECT_EQ(interim.status(), 204);

  EXPECT_FALSE(sized.delimited_by_close());

  ResponseParser until_close(4096, false);
  until_close.feed("HTTP/1.0 200 OK\r\n\r\nstream");
  EXPECT_EQ(until_close.state(), AState::kBody);
  EXPECT_TRUE(until_close.delimited_by_close()) << "the client must see the close too";
  until_close.end_of_input();
  EXPECT_EQ(until_close.state(), AState::kComplete);

  ResponseParser head_only(4096, true);
  head_only.feed("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n");
  EXPECT_EQ(head_only.state(), AState::kComplete) << "the answer to a HEAD has no body";
  EXPECT_FALSE(head_only.delimited_by_close());
  EXPECT_FALSE(interim.delimited_by_close()) << "204: no body";
}

}  // namespace
}  // namespace eclb::ctl
