// Pinned and Maglev routing of L7 requests (see l7_router.h).
#include "control/l7/l7_router.h"

#include <arpa/inet.h>
#include <strings.h>

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

// X-Server-Select: surrounding blanks ignored, names compared without regard to case.
const MemberContent* find_member_by_header(const VipContent& vip, std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  for (const MemberContent& member : vip.members) {
    if (member.name.size() == value.size() && strncasecmp(member.name.data(), value.data(), value.size()) == 0) {
      return &member;
    }
  }
  return find_member(vip, value);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool unreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
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

RouteDecision pinned_to(const VipContent& vip, const MemberContent* member, std::string_view selector,
                        RouteDecision decision) {
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

const VipContent* find_vip(const TableContent* tables, const std::string& vip_name) {
  if (tables == nullptr) return nullptr;
  for (const VipContent& candidate : tables->vips) {
    if (candidate.name == vip_name) return &candidate;
  }
  return nullptr;
}

}  // namespace

std::string normalize_target(std::string_view target) {
  const size_t query_at = target.find('?');
  const std::string_view path = target.substr(0, query_at);
  const std::string_view query = query_at == std::string_view::npos ? std::string_view() : target.substr(query_at);
  // Decode what never needed encoding; leave the rest (an encoded "/" stays one segment).
  std::string decoded;
  decoded.reserve(path.size());
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '%' && i + 2 < path.size() && hex_value(path[i + 1]) >= 0 && hex_value(path[i + 2]) >= 0) {
      const char c = static_cast<char>(hex_value(path[i + 1]) * 16 + hex_value(path[i + 2]));
      if (unreserved(c)) {
        decoded += c;
        i += 2;
        continue;
      }
    }
    decoded += path[i];
  }
  // Segments: "" (repeated slashes) and "." dropped, ".." drops the one before (never
  // above the root); a path ending in "/", "/." or "/.." stays a directory.
  std::vector<std::string_view> segments;
  bool directory = false;
  const std::string_view all = decoded;
  for (size_t at = 0; at <= all.size();) {
    const size_t next = std::min(all.find('/', at), all.size());
    const std::string_view segment = all.substr(at, next - at);
    directory = segment.empty() || segment == "." || segment == "..";
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!directory) {
      segments.push_back(segment);
    }
    at = next + 1;
  }
  std::string out;
  for (const std::string_view segment : segments) {
    out += '/';
    out += segment;
  }
  if (out.empty() || directory) out += '/';
  out += query;
  return out;
}

RouteDecision route_request(const TableContent* tables, const std::string& vip_name, const Endpoint& client,
                            const Endpoint& vip_endpoint, const RequestHead& head) {
  RouteDecision decision;
  decision.target = head.target;
  const VipContent* vip = find_vip(tables, vip_name);
  if (vip == nullptr) {
    decision.status = 503;
    decision.error = fmt::format("eclb: VIP {} has no published table yet\n", vip_name);
    return decision;
  }
  // A path pin first, on the normalised path: "/NAME" or "/NAME/rest" with NAME a gateway.
  const std::string normalized = normalize_target(head.target);
  const std::string_view target = normalized;
  const size_t end = std::min(target.find('/', 1), target.find('?', 1));
  const std::string_view segment = target.substr(1, end == std::string_view::npos ? target.size() - 1 : end - 1);
  if (!segment.empty() && (find_member(*vip, segment) != nullptr || looks_like_gateway_name(segment))) {
    const std::string_view rest = end == std::string_view::npos ? std::string_view() : target.substr(end);
    if (rest.empty() || rest.front() == '?') {
      // "/vm2" is not under "/vm2/": as nginx answers for a location "/vm2/", a redirect.
      decision.status = 301;
      decision.location = fmt::format("/{}/{}", segment, rest);
      decision.pinned = true;
      return decision;
    }
    decision.target = std::string(rest);
    return pinned_to(*vip, find_member(*vip, segment), segment, std::move(decision));
  }
  if (const std::string* selector = head.find("X-Server-Select"); selector != nullptr) {
    std::string_view value = *selector;
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (!value.empty()) return pinned_to(*vip, find_member_by_header(*vip, value), value, std::move(decision));
  }
  abi::FlowKey key{};
  key.family = client.address.family;
  const size_t bytes = client.address.is_v6() ? 16 : 4;
  std::memcpy(key.src, client.address.bytes.data(), bytes);
  std::memcpy(key.dst, vip_endpoint.address.bytes.data(), bytes);
  key.src_port_be = htons(client.port);
  key.dst_port_be = htons(vip_endpoint.port);
  key.protocol = 6;
  decision.slot = vip->slots.empty() ? 0 : static_cast<uint32_t>(abi::flow_hash(key, tables->flow_hash_seed) % vip->slots.size());
  const uint32_t member = vip->slots.empty() ? abi::kNoBackend : vip->slots[decision.slot];
  if (member == abi::kNoBackend || member >= vip->members.size()) {
    decision.status = 503;
    decision.error = fmt::format("eclb: VIP {} has no healthy gateway\n", vip->name);
    return decision;
  }
  decision.backend_name = vip->members[member].name;
  decision.backend = vip->members[member].endpoint;
  return decision;
}

bool next_gateway(const TableContent* tables, const std::string& vip_name, RouteDecision& decision,
                  const std::vector<Endpoint>& tried) {
  const VipContent* vip = find_vip(tables, vip_name);
  if (vip == nullptr || vip->slots.empty() || decision.pinned) return false;
  const size_t size = vip->slots.size();
  for (size_t step = 1; step < size; ++step) {
    const uint32_t slot = static_cast<uint32_t>((decision.slot + step) % size);
    const uint32_t member = vip->slots[slot];
    if (member >= vip->members.size()) continue;
    const MemberContent& candidate = vip->members[member];
    if (candidate.state != abi::BackendState::kUp) continue;
    if (std::find(tried.begin(), tried.end(), candidate.endpoint) != tried.end()) continue;
    decision.slot = slot;
    decision.backend_name = candidate.name;
    decision.backend = candidate.endpoint;
    return true;
  }
  return false;
}

}  // namespace eclb::ctl
