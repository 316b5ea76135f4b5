// DSR encapsulation: the client's IP packet wrapped in an outer IP header from the
// balancer's local address to the backend — IPv4-in-IPv4 (protocol 4), IPv6-in-IPv6
// (next header 41), or GUE variant 1 (the inner IP packet directly after a UDP header,
// source port from the flow hash so backends spread it over their receive queues).
// The Ethernet header stays in front; the caller rewrites its MACs.
#pragma once

#include <rte_ip.h>
#include <rte_mbuf.h>

#include <cstdint>

#include <cstring>

#include "abi/table_region.h"
#include "dataplane/fastpath/byte_order.h"
#include "dataplane/fastpath/checksum.h"
#include "dataplane/fastpath/packet_parser.h"

namespace eclb::dp {

inline constexpr uint16_t kDefaultGuePort = 6080;

// Bytes the outer headers add.
constexpr uint16_t encap_overhead(abi::ForwardMode mode, abi::AddressFamily family) noexcept {
  const uint16_t ip = family == abi::AddressFamily::kIpv6 ? 40 : 20;
  return mode == abi::ForwardMode::kDsrGue ? ip + 8 : ip;
}

// GUE source port for a flow: in 49152-65535, from the flow hash.
constexpr uint16_t gue_source_port(uint64_t flow_hash) noexcept {
  return static_cast<uint16_t>(0xC000 | ((flow_hash >> 16) & 0x3FFF));
}

struct TunnelParams {
  const uint8_t* outer_src;  // 4 or 16 bytes, per the inner family
  const uint8_t* outer_dst;
  uint64_t flow_hash;
  uint16_t gue_port;         // host order
  uint16_t ip_id;            // outer IPv4 identification
  bool zero_udp6_checksum = false;  // GUE over IPv6: UDP checksum 0 (RFC 6935/6936) instead of computed
};

// Trims Ethernet padding, then prepends the outer headers of `mode` (kDsrIpip or
// kDsrGue) after the L2 header. Outer IPv4 copies the inner DSCP/ECN and DF, TTL 64;
// outer IPv6 copies the traffic class, flow label from the hash, hop limit 64; the
// IPv4 header checksum and the IPv6 UDP checksum are computed (IPv4 UDP checksum 0; over
// IPv6 also 0 when asked, RFC 6935: the tunnel's inner packet carries its own checksums,
// and summing the whole payload is most of the IPv6 GUE path's cost).
// Returns false, leaving the packet unchanged, if the mbuf has too little headroom or is
// not a single segment (the worker drops chains on receipt).
bool encapsulate(rte_mbuf* m, const PacketView& view, abi::ForwardMode mode, const TunnelParams& params) noexcept;

namespace detail {
// Moves the L2 header to the new front; constant sizes so the copy is inlined.
inline void move_l2(uint8_t* front, uint16_t overhead, uint16_t l2) noexcept {
  if (l2 == 14) {
    std::memmove(front, front + overhead, 14);
  } else {
    std::memmove(front, front + overhead, 18);
  }
}

}  // namespace detail

// encapsulate() for one (family, mode), inlined into the worker's forward path of that
// pair; `m` must be a single segment.
template <bool kIpv6, bool kGue>
inline bool encapsulate_as(rte_mbuf* m, const PacketView& view, const TunnelParams& params) noexcept {
  constexpr uint16_t kIpHeader = kIpv6 ? 40 : 20;
  constexpr uint16_t kOverhead = kGue ? kIpHeader + 8 : kIpHeader;
  const uint16_t l2 = view.l3_offset;
  if (rte_pktmbuf_headroom(m) < kOverhead) [[unlikely]] return false;
  // A single segment (see encapsulate()): its new length is set outright, which also drops
  // Ethernet padding, so the outer length fields describe exactly the inner packet.
  const auto length = static_cast<uint16_t>(l2 + kOverhead + view.l3_length);
  m->data_off = static_cast<uint16_t>(m->data_off - kOverhead);
  m->data_len = length;
  m->pkt_len = length;
  uint8_t* front = rte_pktmbuf_mtod(m, uint8_t*);
  detail::move_l2(front, kOverhead, l2);
  uint8_t* outer = front + l2;
  const uint8_t* inner = outer + kOverhead;
  const uint16_t inner_length = view.l3_length;

  if constexpr (kIpv6) {
    const uint32_t traffic_class = (load_be32(inner) >> 20) & 0xFF;
    const uint32_t flow_label = static_cast<uint32_t>(params.flow_hash) & 0xFFFFF;
    store_be32(outer, 6u << 28 | traffic_class << 20 | flow_label);
    store_be16(outer + 4, static_cast<uint16_t>(inner_length + (kGue ? 8 : 0)));
    outer[6] = kGue ? kProtoUdp : kProtoIpv6;
    outer[7] = 64;
    std::memcpy(outer + 8, params.outer_src, 16);
    std::memcpy(outer + 24, params.outer_dst, 16);
  } else {
    // The header as five 32-bit words in memory order, summed in registers and each
    // stored once: reading back bytes just stored one at a time (or a spilled array)
    // stalls on store forwarding.
    const uint32_t w0 = 0x45u | uint32_t{inner[1]} << 8 |  // version, IHL; DSCP and ECN from the inner header
                        uint32_t{to_be16(static_cast<uint16_t>(kOverhead + inner_length))} << 16;
    const uint32_t w1 = uint32_t{to_be16(params.ip_id)} |
                        uint32_t{to_be16(view.dont_fragment ? uint16_t{0x4000} : uint16_t{0})} << 16;
    const uint32_t w2 = 64u | uint32_t{kGue ? kProtoUdp : kProtoIpip} << 8;  // TTL, protocol, checksum 0
    uint32_t w3, w4;
    std::memcpy(&w3, params.outer_src, 4);
    std::memcpy(&w4, params.outer_dst, 4);
    const uint16_t sum = fold_ones(uint64_t{w0} + w1 + w2 + w3 + w4);
    const uint32_t w2_checked = w2 | uint32_t{static_cast<uint16_t>(~sum)} << 16;
    std::memcpy(outer, &w0, 4);
    std::memcpy(outer + 4, &w1, 4);
    std::memcpy(outer + 8, &w2_checked, 4);
    std::memcpy(outer + 12, &w3, 4);
    std::memcpy(outer + 16, &w4, 4);
  }
  if constexpr (kGue) {
    uint8_t* udp = outer + kIpHeader;
    store_be16(udp, gue_source_port(params.flow_hash));
    store_be16(udp + 2, params.gue_port);
    store_be16(udp + 4, static_cast<uint16_t>(8 + inner_length));
    udp[6] = udp[7] = 0;
    if constexpr (kIpv6) {  // required over IPv6 (RFC 8200 8.1) unless the tunnel's receivers waive it (RFC 6936)
      if (!params.zero_udp6_checksum) {
        const uint16_t checksum = rte_ipv6_udptcp_cksum(reinterpret_cast<const rte_ipv6_hdr*>(outer), udp);
        std::memcpy(udp + 6, &checksum, 2);
      }
    }
  }
  return true;
}

}  // namespace eclb::dp
