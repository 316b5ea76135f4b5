// Polling the peers' /state (see peer_poller.h).
#include "control/announce/peer_poller.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace eclb::ctl {

namespace {
constexpr size_t kMaxAnswer = 4u << 20;  // a /state of thousands of backends fits
}

struct PeerPoller::Peer {
  ClusterPeerConfig config;
  int fd = -1;
  std::string request;
  size_t sent = 0;
  std::string answer;
  EventLoop::TimerId deadline = 0;
  EventLoop::TimerId next = 0;
  std::optional<PeerView> view;
  EventLoop::Clock::time_point answered_at{};
  PeerStatus status;
};

PeerPoller::PeerPoller(EventLoop& loop) : loop_(loop) {}

PeerPoller::~PeerPoller() { configure({}); }

void PeerPoller::configure(const ClusterConfig& cluster) {
  timeout_ = std::chrono::milliseconds(std::clamp<uint32_t>(cluster.timeout_ms, 50, 1000));
  std::vector<std::unique_ptr<Peer>> kept;
  for (const ClusterPeerConfig& config : cluster.peers) {
    auto same = std::find_if(peers_.begin(), peers_.end(), [&](const std::unique_ptr<Peer>& peer) {
      return peer && peer->config.name == config.name && peer->config.address == config.address;
    });
    if (same != peers_.end()) {
      kept.push_back(std::move(*same));
      continue;
    }
    auto peer = std::make_unique<Peer>();
    peer->config = config;
    peer->status.name = config.name;
    peer->status.address = config.address;
    Peer* raw = peer.get();
    peer->next = loop_.after(std::chrono::milliseconds(0), [this, raw] { poll(*raw); });
    kept.push_back(std::move(peer));
  }
  for (std::unique_ptr<Peer>& gone : peers_) {
    if (!gone) continue;
    if (gone->fd >= 0) {
      loop_.unwatch(gone->fd);
      close(gone->fd);
    }
    if (gone->deadline != 0) loop_.cancel(gone->deadline);
    if (gone->next != 0) loop_.cancel(gone->next);
  }
  peers_ = std::move(kept);
}

void PeerPoller::poll(Peer& peer) {
  peer.next = 0;
  ++peer.status.requests;
  peer.answer.clear();
  peer.sent = 0;
  peer.request = fmt::format("GET /state HTTP/1.0\r\nHost: {}\r\n\r\n", peer.config.address.to_string());
  sockaddr_storage address{};
  const socklen_t length = to_sockaddr(peer.config.address, address);
  peer.fd = socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (peer.fd < 0) return finish(peer, fmt::format("socket: {}", std::strerror(errno)));
  if (connect(peer.fd, reinterpret_cast<sockaddr*>(&address), length) != 0 && errno != EINPROGRESS) {
    return finish(peer, fmt::format("connect: {}", std::strerror(errno)));
  }
  if (auto watched = loop_.watch(peer.fd, EPOLLOUT, [this, &peer](uint32_t events) { on_ready(peer, events); });
      !watched) {
    return finish(peer, watched.error().message);
  }
  peer.deadline = loop_.after(timeout_, [this, &peer] {
    peer.deadline = 0;
    finish(peer, fmt::format("no answer within {} ms", timeout_.count()));
  });
}

void PeerPoller::on_ready(Peer& peer, uint32_t events) {
  if (peer.sent < peer.request.size()) {
    int error = 0;
    socklen_t error_length = sizeof error;
    getsockopt(peer.fd, SOL_SOCKET, SO_ERROR, &error, &error_length);
    if (error != 0) return finish(peer, fmt::format("connect: {}", std::strerror(error)));
    const ssize_t n = send(peer.fd, peer.request.data() + peer.sent, peer.request.size() - peer.sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return finish(peer, fmt::format("send: {}", std::strerror(errno)));
    if (n > 0) peer.sent += static_cast<size_t>(n);
    if (peer.sent == peer.request.size()) (void)loop_.modify(peer.fd, EPOLLIN);
    return;
  }
  if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) == 0) return;
  char chunk[16384];
  while (true) {
    const ssize_t n = recv(peer.fd, chunk, sizeof chunk, 0);
    if (n > 0) {
      peer.answer.append(chunk, static_cast<size_t>(n));
      if (peer.answer.size() > kMaxAnswer) return finish(peer, "answer too large");
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n < 0) return finish(peer, fmt::format("recv: {}", std::strerror(errno)));
    break;  // the peer closed: the answer is whole (HTTP/1.0, Connection: close)
  }
  const size_t head_end = peer.answer.find("\r\n\r\n");
  if (head_end == std::string::npos || peer.answer.compare(0, 5, "HTTP/") != 0) return finish(peer, "not an HTTP answer");
  const size_t status = peer.answer.find(' ');
  if (status == std::string::npos || peer.answer.compare(status + 1, 3, "200") != 0) {
    return finish(peer, fmt::format("answered {}", peer.answer.substr(0, peer.answer.find("\r\n"))));
  }
  auto view = parse_peer_view(peer.answer.substr(head_end + 4));
  if (!view) return finish(peer, view.error().message);
  peer.view = std::move(*view);
  peer.answered_at = loop_.now();
  finish(peer, std::nullopt);
}

void PeerPoller::finish(Peer& peer, std::optional<std::string> error) {
  if (peer.fd >= 0) {
    loop_.unwatch(peer.fd);
    close(peer.fd);
    peer.fd = -1;
  }
  if (peer.deadline != 0) {
    loop_.cancel(peer.deadline);
    peer.deadline = 0;
  }
  peer.status.answering = !error;
  if (error) {
    ++peer.status.failures;
    peer.status.error = std::move(*error);
  }
  // The next request a period after this one ended: one at a time per peer.
  peer.next = loop_.after(kPeriod, [this, &peer] { poll(peer); });
}

std::vector<PeerView> PeerPoller::fresh(std::chrono::milliseconds max_age) const {
  std::vector<PeerView> out;
  const auto now = loop_.now();
  for (const std::unique_ptr<Peer>& peer : peers_) {
    if (peer->view && now - peer->answered_at <= max_age) out.push_back(*peer->view);
  }
  return out;
}

std::vector<PeerStatus> PeerPoller::status() const {
  std::vector<PeerStatus> out;
  for (const std::unique_ptr<Peer>& peer : peers_) out.push_back(peer->status);
  return out;
}

}  // namespace eclb::ctl
