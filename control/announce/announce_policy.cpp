// The announcement rules (see announce_policy.h).
#include "control/announce/announce_policy.h"

#include <fmt/format.h>

#include <map>

namespace eclb::ctl {
namespace {

// Why the local dataplane cannot carry an L4 VIP now; empty when it can.
std::string dataplane_problem(const AnnounceInputs& in) {
  if (!in.dataplane.present) return "no dataplane (no stats region)";
  if (in.dataplane.heartbeat_age_ms > in.heartbeat_timeout_ms) {
    return fmt::format("dataplane not forwarding (heartbeat {:.1f} s old)", in.dataplane.heartbeat_age_ms / 1000.0);
  }
  if (in.dataplane.adopted_generation != in.published_generation && in.since_publish_ms > in.heartbeat_timeout_ms) {
    return fmt::format("dataplane at table generation {}, published {}", in.dataplane.adopted_generation,
                       in.published_generation);
  }
  return {};
}

VipVerdict judge(const AnnounceInputs& in, const VipServing& vip, bool announced, const std::string& dataplane) {
  VipVerdict verdict{vip.name, false, {}};
  if (in.withdrawn_all || in.withdrawn.contains(vip.name)) {
    verdict.reason = "withdrawn by the operator";
  } else if (vip.l7 && !vip.listener_up) {
    verdict.reason = "not listening";
  } else if (!vip.l7 && !dataplane.empty()) {
    verdict.reason = dataplane;
  } else if (vip.up < in.min_up) {
    verdict.reason = fmt::format("{} of {} backends up, min_up {}", vip.up, vip.backends, in.min_up);
  } else if (!vip.l7 && !vip.reached_by_peers.empty()) {
    // Its flows to those backends are lost here but not at the peers, which send them to
    // the same backends: better routed there than re-hashed by a table of its own.
    verdict.reason = fmt::format("cut off from backends its peers reach: {}", vip.reached_by_peers);
  } else if (!announced && !vip.unsettled.empty()) {
    // A host that announces before its checks have settled sends flows by a table its
    // peers do not have.
    verdict.reason = fmt::format("health not settled ({})", vip.unsettled);
  } else {
    verdict.ok = true;
    verdict.reason = "serving";
  }
  return verdict;
}

}  // namespace

std::vector<AddressVerdict> decide_announcements(const AnnounceInputs& inputs) {
  const std::string dataplane = dataplane_problem(inputs);
  std::map<IpAddress, AddressVerdict> by_address;
  for (const VipServing& vip : inputs.vips) {
    AddressVerdict& address = by_address[vip.address];
    if (address.vips.empty()) {
      address.address = vip.address;
      address.announce = true;
      address.reason = "serving";
    }
    const bool announced = inputs.announced.contains(vip.address.to_string());
    VipVerdict verdict = judge(inputs, vip, announced, dataplane);
    if (!verdict.ok && address.announce) {
      address.announce = false;
      address.reason = fmt::format("{}: {}", vip.name, verdict.reason);
    }
    address.vips.push_back(std::move(verdict));
  }
  std::vector<AddressVerdict> out;
  out.reserve(by_address.size());
  for (auto& [address, verdict] : by_address) out.push_back(std::move(verdict));
  return out;
}

}  // namespace eclb::ctl
