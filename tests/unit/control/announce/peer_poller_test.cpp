// PeerPoller against real sockets on loopback: an answering peer, a refusing one, a
// silent one (accepts, never answers: bounded by the timeout, the loop never blocks) and
// one that answers something else.
#include "control/announce/peer_poller.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "tests/unit/support/loopback_server.h"

namespace eclb::ctl {
namespace {

constexpr const char* kState = R"({"host": "lb2", "vips": [{"name": "web", "announced": true, "diverged": false,
  "backends": [{"endpoint": "10.0.0.21:80", "up": true, "probe_ok": true}]}]})";

// A peer on loopback (the tests' LoopbackServer thread) that counts the requests it got
// and answers each with `answer` ("HANG": keeps the connection 400 ms, answers nothing).
struct FakePeer {
  explicit FakePeer(std::string answer)
      : server([this, answer = std::move(answer)](const std::string&) {
          ++requests;
          return answer;
        }) {}
  Endpoint endpoint() const { return server.endpoint(); }
  std::atomic<int> requests{0};
  test::LoopbackServer server;
};

std::string http_ok(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

void run_for(EventLoop& loop, std::chrono::milliseconds duration) {
  loop.after(duration, [&] { loop.stop(); });
  loop.run();
}

TEST(PeerPollerTest, PollsEveryPeerAndKeepsTheirAnswers) {
  EventLoop loop;
  FakePeer answering(http_ok(kState));
  FakePeer silent("HANG");
  FakePeer wrong("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  ClusterConfig cluster;
  cluster.timeout_ms = 100;
  cluster.peers = {{"lb2", answering.endpoint()},
                   {"lb3", silent.endpoint()},
                   {"lb4", wrong.endpoint()},
                   {"lb5", test::unused_loopback_port()}};
  PeerPoller poller(loop);
  poller.configure(cluster);
  const auto started = loop.now();
  run_for(loop, std::chrono::milliseconds(900));
  EXPECT_LT(loop.now() - started, std::chrono::milliseconds(1100)) << "a silent peer never holds the loop";

  const auto fresh = poller.fresh(std::chrono::milliseconds(1000));
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_EQ(fresh[0].host, "lb2");
  ASSERT_EQ(fresh[0].vips.size(), 1u);
  EXPECT_TRUE(fresh[0].vips[0].announced);
  // One request at a time, a period apart: 900 ms holds 3 or 4 of them.
  EXPECT_GE(answering.requests, 3);
  EXPECT_LE(answering.requests, 4);
  EXPECT_GE(silent.requests, 2) << "each timed-out request is followed by the next";

  const auto status = poller.status();
  ASSERT_EQ(status.size(), 4u);
  EXPECT_TRUE(status[0].answering);
  EXPECT_FALSE(status[1].answering);
  EXPECT_EQ(status[1].error, "no answer within 100 ms");
  EXPECT_FALSE(status[2].answering);
  EXPECT_EQ(status[2].error, "answered HTTP/1.1 404 Not Found");
  EXPECT_FALSE(status[3].answering);
  EXPECT_EQ(status[3].error, "connect: Connection refused");
  EXPECT_GT(status[3].failures, 2u);
}

TEST(PeerPollerTest, AnAnswerAgesOutAndUnlistedPeersStop) {
  EventLoop loop;
  PeerPoller poller(loop);
  {
    FakePeer answering(http_ok(kState));
    ClusterConfig cluster;
    cluster.timeout_ms = 100;
    cluster.peers = {{"lb2", answering.endpoint()}};
    poller.configure(cluster);
    run_for(loop, std::chrono::milliseconds(100));
    EXPECT_EQ(poller.fresh(std::chrono::milliseconds(1000)).size(), 1u);
  }
  // The peer is gone: its last answer counts only while it is young.
  run_for(loop, std::chrono::milliseconds(400));
  EXPECT_EQ(poller.fresh(std::chrono::milliseconds(1000)).size(), 1u);
  EXPECT_TRUE(poller.fresh(std::chrono::milliseconds(300)).empty());
  EXPECT_FALSE(poller.status()[0].answering);
  // Reconfigured without peers: nothing is polled, nothing is left watched.
  poller.configure({});
  EXPECT_TRUE(poller.status().empty());
  EXPECT_EQ(loop.watched(), 0u);
}

}  // namespace
}  // namespace eclb::ctl
