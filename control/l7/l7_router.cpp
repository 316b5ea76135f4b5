// Pinned and Maglev routing of L7 requests (see l7_router.h).
#include "control/l7/l7_router.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "abi/flow_hash.h"

namespace eclb::ctl {
namespace {

const MemberContent* find_member(const VipContent& vip, std::string_view selector) {
  for (const MemberContent& member : vip.members) {
    if (member.name == selector) return &member;
  }
  if (auto endpoint = Endpoint::parse(selector); endpoint) {
    for (const MemberContent& member : vip.members) {
      if (member.endpoint == *endpoint) return &member;
    }
  }
  return nullptr;
}

// "vm" followed by digits: the nginx image's gateway names. A path starting with one that
// the VIP lacks is a pin to an unknown gateway, not a path for the default route.
bool looks_like_gateway_name(std::string_view segment) {
  if (segment.size() < 3 || segment.substr(0, 2) != "vm") return false;
  for (const char c : segment.substr(2)) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

RouteDecision pinned_to(const VipContent& vip, std::string_view selector, RouteDecision decision) {
  const MemberContent* member = find_member(vip, selector);
  decision.pinned = true;
  if (member == nullptr) {
    decision.status = 502;
    decision.error = fmt::format("eclb: VIP {} has no gateway \"{}\"\n", vip.name, selector);
    return decision;
  }
  if (member->state != abi::BackendState::kUp) {
    decision.status = 503;
    decision.error = fmt::format("eclb: gateway {} is {}\n", member->name,
                                 member->state == abi::BackendState::kDrained ? "drained" : "down");
    return decision;
  }
  decision.backend_name = member->name;
  decision.backend = member->endpoint;
  return decision;
}

}  // namespace

RouteDecision route_request(const TableContent* tables, const std::string& vip_name, const Endpoint& client,
                            const Endpoint& vip_endpoint, const RequestHead& head) {
  RouteDecision decision;
  decision.target = head.target;
  const VipContent* vip = nullptr;
  if (tables != nullptr) {
    for (const VipContent& candidate : tables->vips) {
      if (candidate.name == vip_name) vip = &candidate;
    }
  }
  if (vip == nullptr) {
    decision.status = 503;
    decision.error = fmt::format("eclb: VIP {} has no published table yet\n", vip_name);
    return decision;
  }
  if (const std::string* selector = head.find("X-Server-Select"); selector != nullptr && !selector->empty()) {
    return pinned_to(*vip, *selector, std::move(decision));
  }
  // "/NAME" or "/NAME/rest" with NAME a gateway: pinned, and the prefix goes.
  const std::string_view target = head.target;
  const size_t end = std::min(target.find('/', 1), target.find('?', 1));
  const std::string_view segment = target.substr(1, end == std::string_view::npos ? target.size() - 1 : end - 1);
  if (!segment.empty() && (find_member(*vip, segment) != nullptr || looks_like_gateway_name(segment))) {
    const std::string_view rest = end == std::string_view::npos ? std::string_view() : target.substr(end);
    decision.target = fmt::format("{}{}", rest.empty() || rest.front() == '?' ? "/" : "", rest);
    return pinned_to(*vip, segment, std::move(decision));
  }
  abi::FlowKey key{};
  key.family = client.address.family;
  const size_t bytes = client.address.is_v6() ? 16 : 4;
  std::memcpy(key.src, client.address.bytes.data(), bytes);
  std::memcpy(key.dst, vip_endpoint.address.bytes.data(), bytes);
  key.src_port_be = htons(client.port);
  key.dst_port_be = htons(vip_endpoint.port);
  key.protocol = 6;
  const uint32_t slot = vip->slots.empty() ? abi::kNoBackend
                                           : vip->slots[abi::flow_hash(key, tables->flow_hash_seed) % vip->slots.size()];
  if (slot == abi::kNoBackend || slot >= vip->members.size()) {
    decision.status = 503;
    decision.error = fmt::format("eclb: VIP {} has no healthy gateway\n", vip->name);
    return decision;
  }
  decision.backend_name = vip->members[slot].name;
  decision.backend = vip->members[slot].endpoint;
  return decision;
}

}  // namespace eclb::ctl
