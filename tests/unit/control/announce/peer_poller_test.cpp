// PeerPoller against real sockets on loopback, served from the same event loop: an
// answering peer, a refusing one, a silent one (accepts, never answers: bounded by the
// timeout, the loop never blocks) and one that answers something else.
#include "control/announce/peer_poller.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace eclb::ctl {
namespace {

constexpr const char* kState = R"({"host": "lb2", "vips": [{"name": "web", "announced": true, "diverged": false,
  "backends": [{"endpoint": "10.0.0.21:80", "up": true, "probe_ok": true}]}]})";

// A listener on 127.0.0.1 that answers every connection with `answer` (empty: never
// answers, keeps the connection open).
class FakePeer {
 public:
  FakePeer(EventLoop& loop, std::string answer) : loop_(loop), answer_(std::move(answer)) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    socklen_t length = sizeof address;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    EXPECT_TRUE(loop_.watch(fd_, EPOLLIN, [this](uint32_t) { accept_one(); }).ok());
  }
  ~FakePeer() {
    loop_.unwatch(fd_);
    close(fd_);
    for (int fd : held_) {
      loop_.unwatch(fd);
      close(fd);
    }
  }
  Endpoint endpoint() const { return *Endpoint::parse("127.0.0.1:" + std::to_string(port_)); }
  int accepted = 0;

 private:
  void accept_one() {
    const int fd = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    ++accepted;
    held_.push_back(fd);
    if (answer_.empty()) return;
    // Answers once the request is in (the poller sends it from this same loop).
    EXPECT_TRUE(loop_.watch(fd, EPOLLIN, [this, fd](uint32_t) {
      char request[1024];
      [[maybe_unused]] const ssize_t got = recv(fd, request, sizeof request, 0);
      [[maybe_unused]] const ssize_t sent = send(fd, answer_.data(), answer_.size(), MSG_NOSIGNAL);
      loop_.unwatch(fd);
      shutdown(fd, SHUT_RDWR);
    }).ok());
  }
  EventLoop& loop_;
  std::string answer_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::vector<int> held_;
};

std::string http_ok(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

uint16_t unused_port() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);  // nothing listens on it now: connecting is refused
  return ntohs(address.sin_port);
}

void run_for(EventLoop& loop, std::chrono::milliseconds duration) {
  loop.after(duration, [&] { loop.stop(); });
  loop.run();
}

TEST(PeerPollerTest, PollsEveryPeerAndKeepsTheirAnswers) {
  EventLoop loop;
  FakePeer answering(loop, http_ok(kState));
  FakePeer silent(loop, "");
  FakePeer wrong(loop, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  ClusterConfig cluster;
  cluster.timeout_ms = 100;
  cluster.peers = {{"lb2", answering.endpoint()},
                   {"lb3", silent.endpoint()},
                   {"lb4", wrong.endpoint()},
                   {"lb5", *Endpoint::parse("127.0.0.1:" + std::to_string(unused_port()))}};
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
  EXPECT_GE(answering.accepted, 3);
  EXPECT_LE(answering.accepted, 4);
  EXPECT_GE(silent.accepted, 2) << "each timed-out request is followed by the next";

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
    FakePeer answering(loop, http_ok(kState));
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
