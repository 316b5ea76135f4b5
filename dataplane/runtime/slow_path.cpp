// ARP / IPv6 ND for the balancer's addresses and its backends' next hops.
#include "dataplane/runtime/slow_path.h"

#include <rte_ip.h>

#include <cstring>

#include "common/log.h"
#include "dataplane/fastpath/byte_order.h"
#include "dataplane/fastpath/icmp.h"
#include "dataplane/fastpath/packet_parser.h"

namespace eclb::dp {
namespace {

constexpr uint16_t kArpRequest = 1, kArpReply = 2;

std::string mac_text(const uint8_t* mac) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

IpAddress ipv4_at(const uint8_t* p) {
  IpAddress address;
  address.family = abi::AddressFamily::kIpv4;
  std::memcpy(address.bytes.data(), p, 4);
  return address;
}

IpAddress ipv6_at(const uint8_t* p) {
  IpAddress address;
  address.family = abi::AddressFamily::kIpv6;
  std::memcpy(address.bytes.data(), p, 16);
  return address;
}

void set_icmpv6_checksum(uint8_t* ip, uint8_t* icmp) {
  icmp[2] = icmp[3] = 0;
  const uint16_t checksum = rte_ipv6_udptcp_cksum(reinterpret_cast<const rte_ipv6_hdr*>(ip), icmp);
  std::memcpy(icmp + 2, &checksum, 2);
}

// Link-layer address option `type` (1 source, 2 target) of an ND message, or nullptr.
const uint8_t* find_link_layer_option(const uint8_t* options, uint32_t length, uint8_t type) {
  while (length >= 8) {
    const uint32_t size = options[1] * 8u;
    if (size == 0 || size > length) return nullptr;
    if (options[0] == type && size >= 8) return options + 2;
    options += size;
    length -= size;
  }
  return nullptr;
}

}  // namespace

SlowPath::SlowPath(std::vector<SlowPathPort> ports, rte_mempool* pool, std::span<abi::FlowNeighbour> cache,
                   uint64_t now_ms)
    : pool_(pool), cache_(cache) {
  for (SlowPathPort& port : ports) {
    auto state = std::make_unique<PortState>(PortState{port, {}});
    for (const auto& [address, mac] : port.static_neighbours) {
      Neighbour& neighbour = state->neighbours[address];
      std::memcpy(neighbour.mac, mac.data(), 6);
      neighbour.known = neighbour.permanent = true;
    }
    ports_.push_back(std::move(state));
  }
  adopt(now_ms);
}

void SlowPath::adopt(uint64_t now_ms) {
  for (const abi::FlowNeighbour& cached : cache_) {
    if (cached.valid != 1) continue;
    const uint64_t confirmed_ms = uint64_t{cached.confirmed_s} * 1000;
    if (confirmed_ms > now_ms || now_ms - confirmed_ms > kLostAfterMs) continue;  // another boot, or too old
    PortState* state = port_of(cached.port_id);
    if (state == nullptr) continue;
    const IpAddress address = cached.family == abi::AddressFamily::kIpv6 ? ipv6_at(cached.address) : ipv4_at(cached.address);
    Neighbour& neighbour = state->neighbours[address];
    if (neighbour.permanent) continue;
    std::memcpy(neighbour.mac, cached.mac, 6);
    neighbour.known = true;
    neighbour.confirmed_ms = confirmed_ms;  // re-probed once kRefreshAfterMs have passed since
    neighbour.wanted_ms = now_ms;
    ++adopted_;
  }
}

void SlowPath::persist() {
  size_t next = 0;
  for (const auto& state : ports_) {
    for (const auto& [address, neighbour] : state->neighbours) {
      if (!neighbour.known || neighbour.permanent || next == cache_.size()) continue;
      abi::FlowNeighbour wanted{};
      std::memcpy(wanted.address, address.bytes.data(), 16);
      std::memcpy(wanted.mac, neighbour.mac, 6);
      wanted.port_id = state->port.port_id;
      wanted.family = address.family;
      wanted.valid = 1;
      wanted.confirmed_s = static_cast<uint32_t>(neighbour.confirmed_ms / 1000);
      abi::FlowNeighbour& slot = cache_[next++];
      if (std::memcmp(&slot, &wanted, sizeof wanted) == 0) continue;
      // Invalid while it changes: a run killed in between leaves no half-written MAC.
      __atomic_store_n(&slot.valid, uint8_t{0}, __ATOMIC_RELEASE);
      wanted.valid = 0;
      std::memcpy(&slot, &wanted, sizeof wanted);
      __atomic_store_n(&slot.valid, uint8_t{1}, __ATOMIC_RELEASE);
    }
  }
  for (; next < cache_.size(); ++next) {
    if (cache_[next].valid != 0) __atomic_store_n(&cache_[next].valid, uint8_t{0}, __ATOMIC_RELEASE);
  }
}

SlowPath::PortState* SlowPath::port_of(uint16_t port_id) {
  for (auto& state : ports_) {
    if (state->port.port_id == port_id) return state.get();
  }
  return nullptr;
}

std::optional<IpAddress> SlowPath::next_hop(const PortState& state, const IpAddress& backend) const {
  const auto& local = backend.is_v4() ? state.port.ipv4 : state.port.ipv6;
  const auto& gateway = backend.is_v4() ? state.port.gateway_ipv4 : state.port.gateway_ipv6;
  if (local && local->contains(backend)) return backend;
  return gateway;
}

bool SlowPath::owns_address(const PortState& state, const IpAddress& address, const TableView& table) const {
  const auto& local = address.is_v4() ? state.port.ipv4 : state.port.ipv6;
  if (local && local->address == address) return true;
  for (const IpAddress& nat : state.port.nat_addresses) {
    if (nat == address) return true;
  }
  if (table.empty()) return false;
  uint8_t key[16] = {};
  std::memcpy(key, address.bytes.data(), 16);
  return table.find_vip_address(key) != nullptr;
}

bool SlowPath::is_local(const PortState& state, const IpAddress& address) const {
  const auto& local = address.is_v4() ? state.port.ipv4 : state.port.ipv6;
  if (local && local->address == address) return true;
  for (const IpAddress& nat : state.port.nat_addresses) {
    if (nat == address) return true;
  }
  return false;
}

void SlowPath::release(const PortState& state, rte_mbuf* m, std::vector<rte_mbuf*>& kernel) {
  if (state.port.has_exception) {
    ++counters_.to_kernel;
    kernel.push_back(m);
  } else {
    ++counters_.dropped;
    rte_pktmbuf_free(m);
  }
}

void SlowPath::learn(PortState& state, const IpAddress& address, const uint8_t* mac, uint64_t now_ms) {
  const auto it = state.neighbours.find(address);
  if (it == state.neighbours.end()) return;  // only next hops we are resolving
  Neighbour& neighbour = it->second;
  if (neighbour.permanent) return;
  if (!neighbour.known || std::memcmp(neighbour.mac, mac, 6) != 0) {
    log::info("dp.neighbour", "resolved port={} address={} mac={}", state.port.port_id, address.to_string(),
              mac_text(mac));
  }
  std::memcpy(neighbour.mac, mac, 6);
  neighbour.known = true;
  neighbour.confirmed_ms = now_ms;
  ++counters_.learned;
}

void SlowPath::handle(rte_mbuf* m, const TableView& table, uint64_t now_ms, std::vector<rte_mbuf*>& out,
                      std::vector<rte_mbuf*>& kernel) {
  PortState* state = port_of(m->port);
  PacketView view;
  const uint8_t* data = rte_pktmbuf_mtod(m, const uint8_t*);
  const ParseResult parsed = parse_packet(data, rte_pktmbuf_data_len(m), view);
  if (state != nullptr && parsed.kind == PacketKind::kArp) {
    handle_arp(*state, m, view.l3_offset, table, now_ms, out, kernel);
    return;
  }
  if (state != nullptr && parsed.kind == PacketKind::kIpv6 && view.l4_protocol == kProtoIcmpv6) {
    handle_nd(*state, m, view.l3_offset, view.l4_offset, table, now_ms, out, kernel);
    return;
  }
  ++counters_.ignored;
  if (state != nullptr) {
    release(*state, m, kernel);
  } else {
    ++counters_.dropped;
    rte_pktmbuf_free(m);
  }
}

void SlowPath::handle_arp(PortState& state, rte_mbuf* m, uint32_t l3, const TableView& table, uint64_t now_ms,
                          std::vector<rte_mbuf*>& out, std::vector<rte_mbuf*>& kernel) {
  uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
  uint8_t* arp = frame + l3;
  const bool ethernet_ipv4 = load_be16(arp) == 1 && load_be16(arp + 2) == kEtherTypeIpv4 && arp[4] == 6 && arp[5] == 4;
  const uint16_t operation = load_be16(arp + 6);
  if (!ethernet_ipv4 || (operation != kArpRequest && operation != kArpReply)) {
    ++counters_.ignored;
    release(state, m, kernel);
    return;
  }
  const IpAddress sender = ipv4_at(arp + 14);
  const IpAddress target = ipv4_at(arp + 24);
  learn(state, sender, arp + 8, now_ms);
  if (operation == kArpReply) {
    // Replies to our own requests (asked from a local address) end here; the kernel's
    // (asked from its own address, or from a VIP it holds) are the kernel's.
    if (is_local(state, target)) rte_pktmbuf_free(m);
    else release(state, m, kernel);
    return;
  }
  if (!owns_address(state, target, table)) {
    release(state, m, kernel);
    return;
  }
  // Answer in place: back to the requester, "target is at our MAC".
  uint8_t requester_mac[6], requester_ip[4];
  std::memcpy(requester_mac, arp + 8, 6);
  std::memcpy(requester_ip, arp + 14, 4);
  std::memcpy(frame, frame + 6, 6);
  std::memcpy(frame + 6, state.port.mac, 6);
  store_be16(arp + 6, kArpReply);
  std::memcpy(arp + 8, state.port.mac, 6);
  std::memcpy(arp + 14, target.bytes.data(), 4);
  std::memcpy(arp + 18, requester_mac, 6);
  std::memcpy(arp + 24, requester_ip, 4);
  m->port = state.port.port_id;
  ++counters_.arp_replies;
  out.push_back(m);
}

void SlowPath::handle_nd(PortState& state, rte_mbuf* m, uint32_t l3, uint32_t l4, const TableView& table,
                         uint64_t now_ms, std::vector<rte_mbuf*>& out, std::vector<rte_mbuf*>& kernel) {
  uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
  uint8_t* ip = frame + l3;
  uint8_t* icmp = frame + l4;
  const uint32_t end = l3 + 40 + load_be16(ip + 4);
  const uint8_t type = icmp[0];
  // RFC 4861 7.1: hop limit 255 (not forwarded by a router) and room for the target.
  if (ip[7] != 255 || l4 + 24 > end || (type != kIcmpv6NeighbourSolicit && type != kIcmpv6NeighbourAdvert)) {
    ++counters_.ignored;  // router solicitations / advertisements, redirects: the host's
    release(state, m, kernel);
    return;
  }
  const IpAddress target = ipv6_at(icmp + 8);
  const IpAddress source = ipv6_at(ip + 8);
  const uint8_t* options = icmp + 24;
  const uint32_t options_length = end - (l4 + 24);
  if (type == kIcmpv6NeighbourAdvert) {
    if (const uint8_t* mac = find_link_layer_option(options, options_length, 2)) learn(state, target, mac, now_ms);
    if (is_local(state, ipv6_at(ip + 24))) rte_pktmbuf_free(m);  // the answer to our solicitation
    else release(state, m, kernel);
    return;
  }
  const uint8_t* source_mac = find_link_layer_option(options, options_length, 1);
  const bool unspecified_source = source.bytes == std::array<uint8_t, 16>{};
  if (source_mac != nullptr) learn(state, source, source_mac, now_ms);
  if (!owns_address(state, target, table)) {
    release(state, m, kernel);
    return;
  }
  if (unspecified_source) {  // duplicate address detection of one of our addresses: stay quiet
    rte_pktmbuf_free(m);
    return;
  }
  // Solicited, overriding advertisement with our MAC, back to the soliciting node.
  uint8_t destination_mac[6];
  std::memcpy(destination_mac, source_mac != nullptr ? source_mac : frame + 6, 6);
  std::memcpy(frame, destination_mac, 6);
  std::memcpy(frame + 6, state.port.mac, 6);
  store_be16(ip + 4, 32);
  ip[6] = kProtoIcmpv6;
  ip[7] = 255;
  std::memcpy(ip + 24, ip + 8, 16);  // to the soliciting node
  std::memcpy(ip + 8, target.bytes.data(), 16);
  icmp = ip + 40;  // the reply carries no extension headers
  icmp[0] = kIcmpv6NeighbourAdvert;
  icmp[1] = 0;
  store_be32(icmp + 4, 0x60000000);  // solicited | override
  std::memcpy(icmp + 8, target.bytes.data(), 16);
  icmp[24] = 2;  // target link-layer address option
  icmp[25] = 1;
  std::memcpy(icmp + 26, state.port.mac, 6);
  const uint32_t length = l3 + 40 + 32;
  if (rte_pktmbuf_pkt_len(m) > length) rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_pkt_len(m) - length));
  else if (rte_pktmbuf_pkt_len(m) < length) rte_pktmbuf_append(m, static_cast<uint16_t>(length - rte_pktmbuf_pkt_len(m)));
  set_icmpv6_checksum(ip, icmp);
  m->port = state.port.port_id;
  ++counters_.na_sent;
  out.push_back(m);
}

rte_mbuf* SlowPath::build_request(const PortState& state, const IpAddress& target) {
  const auto& local = target.is_v4() ? state.port.ipv4 : state.port.ipv6;
  if (!local) return nullptr;  // no source address of that family on the port
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  if (m == nullptr) return nullptr;
  const uint16_t length = target.is_v4() ? 14 + 28 : 14 + 40 + 32;
  auto* frame = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, length));
  if (frame == nullptr) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  std::memset(frame, 0, length);
  std::memcpy(frame + 6, state.port.mac, 6);
  if (target.is_v4()) {
    std::memset(frame, 0xFF, 6);
    store_be16(frame + 12, kEtherTypeArp);
    uint8_t* arp = frame + 14;
    store_be16(arp, 1);
    store_be16(arp + 2, kEtherTypeIpv4);
    arp[4] = 6;
    arp[5] = 4;
    store_be16(arp + 6, kArpRequest);
    std::memcpy(arp + 8, state.port.mac, 6);
    std::memcpy(arp + 14, local->address.bytes.data(), 4);
    std::memcpy(arp + 24, target.bytes.data(), 4);
  } else {
    // To the target's solicited-node multicast group ff02::1:ffXX:XXXX.
    const uint8_t group_mac[6] = {0x33, 0x33, 0xFF, target.bytes[13], target.bytes[14], target.bytes[15]};
    std::memcpy(frame, group_mac, 6);
    store_be16(frame + 12, kEtherTypeIpv6);
    uint8_t* ip = frame + 14;
    store_be32(ip, 6u << 28);
    store_be16(ip + 4, 32);
    ip[6] = kProtoIcmpv6;
    ip[7] = 255;
    std::memcpy(ip + 8, local->address.bytes.data(), 16);
    const uint8_t group[16] = {0xFF, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xFF, target.bytes[13], target.bytes[14],
                               target.bytes[15]};
    std::memcpy(ip + 24, group, 16);
    uint8_t* icmp = ip + 40;
    icmp[0] = kIcmpv6NeighbourSolicit;
    std::memcpy(icmp + 8, target.bytes.data(), 16);
    icmp[24] = 1;  // source link-layer address option
    icmp[25] = 1;
    std::memcpy(icmp + 26, state.port.mac, 6);
    set_icmpv6_checksum(ip, icmp);
  }
  m->port = state.port.port_id;
  return m;
}

void SlowPath::tick(const TableView& table, uint64_t now_ms, std::vector<rte_mbuf*>& out) {
  for (auto& state_ptr : ports_) {
    PortState& state = *state_ptr;
    if (!table.empty()) {
      for (const abi::BackendEntry& backend : table.backends()) {
        const auto hop = next_hop(state, IpAddress::from_bytes(backend.family, backend.address));
        if (!hop) {
          state.port.neighbours->clear(backend.id);
          continue;
        }
        Neighbour& neighbour = state.neighbours[*hop];
        neighbour.wanted_ms = now_ms;
        if (neighbour.known) {
          state.port.neighbours->publish(backend.id, neighbour.mac);
        } else {
          state.port.neighbours->clear(backend.id);
        }
      }
    }
    for (auto it = state.neighbours.begin(); it != state.neighbours.end();) {
      Neighbour& neighbour = it->second;
      if (neighbour.permanent) {
        ++it;
        continue;
      }
      if (now_ms - neighbour.wanted_ms > kLostAfterMs) {  // no backend needs it any more
        it = state.neighbours.erase(it);
        continue;
      }
      if (neighbour.known && now_ms - neighbour.confirmed_ms > kLostAfterMs) {
        neighbour.known = false;
        log::warn("dp.neighbour", "lost port={} address={} (no reply for {} s)", state.port.port_id,
                  it->first.to_string(), kLostAfterMs / 1000);
      }
      const bool needs_probe = !neighbour.known || now_ms - neighbour.confirmed_ms > kRefreshAfterMs;
      const uint64_t interval = neighbour.known ? kRefreshIntervalMs : kProbeIntervalMs;
      if (needs_probe && (neighbour.probed_ms == 0 || now_ms - neighbour.probed_ms >= interval)) {
        if (rte_mbuf* request = build_request(state, it->first)) {
          out.push_back(request);
          ++counters_.requests_sent;
        }
        neighbour.probed_ms = now_ms;
      }
      ++it;
    }
  }
  persist();
}

}  // namespace eclb::dp
