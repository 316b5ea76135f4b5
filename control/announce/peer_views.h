// What the other hosts of a tier (cluster.peers) say about the backends, and what this
// host makes of it. A host that sees a backend fail while the peers announcing the same
// VIP still reach it is more likely cut off from that backend than the backend dead: if
// it kept announcing, the router would keep sending it flows it hashes to a backend it
// cannot reach, and its next table (without that backend) would differ from every
// peer's. So it withdraws instead (announce_policy.h) and the peers, whose tables send
// those flows to the same backend, carry them. Pure functions over parsed /state
// answers (host_state.h), so every rule is unit-tested without a network.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"

namespace eclb::ctl {

struct PeerBackendView {
  Endpoint endpoint;
  bool up = false;        // in the peer's published table as up
  bool probe_ok = false;  // the peer's latest health check of it passed
};

struct PeerVipView {
  std::string name;
  bool announced = false;
  // The peer itself sees backends of this VIP down that others reach: its word on who
  // reaches what does not count (two hosts cut off from different backends would
  // otherwise both withdraw, each on the other's word).
  bool diverged = false;
  std::vector<PeerBackendView> backends;
};

struct PeerView {
  std::string host;
  std::vector<PeerVipView> vips;
};

// A peer's GET /state body. An answer without the per-backend view (an older
// eclb-control) parses with no backends, so it neither confirms nor contradicts.
Result<PeerView> parse_peer_view(const std::string& body);

struct ReachedBackend {
  Endpoint endpoint;
  std::vector<std::string> reached_by;  // peer hosts that announce the VIP and reach it
};

// The backends in `down_here` (of VIP `vip`) that the peers reach: at least one peer
// that announces the VIP, is not diverged itself, sees the backend up with its latest
// check passing — and more such peers than peers seeing it down or failing (a backend
// that is really dying fails their checks too). `peers` are the fresh answers only.
std::vector<ReachedBackend> reached_by_peers(const std::string& vip, const std::vector<Endpoint>& down_here,
                                             const std::vector<PeerView>& peers);

// "10.0.0.21:80 (up at lb1, lb2)", for a withdrawal's reason.
std::string describe(const std::vector<ReachedBackend>& reached);

}  // namespace eclb::ctl
