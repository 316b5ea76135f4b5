// PeerPoller: asks every peer of cluster.peers for its GET /state on eclb-control's
// event loop, one request per peer at a time, every 250 ms, each bounded by
// cluster.timeout_ms (capped at 1 s), so the announcement rules see what the peers see
// with a lag well under the health checks' own interval. Non-blocking throughout: a peer
// that is down or stuck costs a socket and a timer, never the loop.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "control/announce/peer_views.h"
#include "control/event/event_loop.h"

namespace eclb::ctl {

struct PeerStatus {
  std::string name;
  Endpoint address;
  bool answering = false;  // its latest request was answered with a /state
  std::string error;       // the latest failure, if it was one
  uint64_t requests = 0;
  uint64_t failures = 0;
};

class PeerPoller {
 public:
  static constexpr std::chrono::milliseconds kPeriod{250};

  explicit PeerPoller(EventLoop& loop);
  ~PeerPoller();
  PeerPoller(const PeerPoller&) = delete;
  PeerPoller& operator=(const PeerPoller&) = delete;

  // Starts polling these peers (none: stops); peers that stay keep their latest answer.
  void configure(const ClusterConfig& cluster);
  // The answers received within `max_age`.
  std::vector<PeerView> fresh(std::chrono::milliseconds max_age) const;
  std::vector<PeerStatus> status() const;

 private:
  struct Peer;
  void poll(Peer& peer);
  void on_ready(Peer& peer, uint32_t events);
  void finish(Peer& peer, std::optional<std::string> error);

  EventLoop& loop_;
  std::chrono::milliseconds timeout_{1000};
  std::vector<std::unique_ptr<Peer>> peers_;
};

}  // namespace eclb::ctl
