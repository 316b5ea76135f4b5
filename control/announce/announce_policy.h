// Whether this host announces its VIP addresses to the routers (the Scale-out rules of
// DESIGN.md), as a pure function of what eclb-control knows, so that every rule is
// unit-tested without BIRD or a dataplane:
//   - an L4 VIP needs the local dataplane forwarding: a fresh heartbeat, and the table
//     generation it adopted is the published one (a publication a moment old may still
//     be on its way: that is not a failure);
//   - an L7 VIP needs eclb-control's listener for it;
//   - every VIP needs its health view settled (no backend on its way up or down, each
//     checked since eclb-control started) before it is first announced, and at least
//     `min_up` healthy backends while it stays announced;
//   - an L4 VIP is withdrawn while backends down here are up at the peers announcing it
//     (this host is cut off from them: peer_views.h);
//   - an operator's `eclbctl withdraw` wins over everything.
// Routes are per address: an address is announced only while every VIP on it may be
// (the router cannot send a VIP's traffic elsewhere while the address is announced).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/ip_address.h"

namespace eclb::ctl {

struct VipServing {
  std::string name;
  IpAddress address;
  bool l7 = false;
  bool listener_up = false;  // l7: the proxy listens on it
  uint32_t backends = 0;
  uint32_t up = 0;
  std::string unsettled;     // a backend whose health is not settled yet; empty: settled
  std::string reached_by_peers;  // backends down here that the peers reach (described); empty: none
};

struct DataplaneView {
  bool present = false;             // a stats region with a dataplane's heartbeat
  uint64_t heartbeat_age_ms = 0;
  uint64_t adopted_generation = 0;  // the table generation its workers use
};

struct AnnounceInputs {
  std::vector<VipServing> vips;
  DataplaneView dataplane;
  uint64_t published_generation = 0;
  uint64_t since_publish_ms = 0;     // how long ago that generation was published
  bool withdrawn_all = false;        // eclbctl withdraw --all
  std::set<std::string> withdrawn;   // eclbctl withdraw VIP (names)
  std::set<std::string> announced;   // addresses announced now (text): they need no settling
  uint32_t min_up = 1;
  uint32_t heartbeat_timeout_ms = 1000;
};

struct VipVerdict {
  std::string name;
  bool ok = false;
  std::string reason;  // why not, or "serving"
};

struct AddressVerdict {
  IpAddress address;
  bool announce = false;
  std::string reason;  // "serving", or the first VIP's reason for not
  std::vector<VipVerdict> vips;
};

// One verdict per VIP address, in address order.
std::vector<AddressVerdict> decide_announcements(const AnnounceInputs& inputs);

}  // namespace eclb::ctl
