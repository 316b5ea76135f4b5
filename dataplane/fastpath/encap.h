// DSR encapsulation: the client's IP packet wrapped in an outer IP header from the
// balancer's local address to the backend — IPv4-in-IPv4 (protocol 4), IPv6-in-IPv6
// (next header 41), or GUE variant 1 (the inner IP packet directly after a UDP header,
// source port from the flow hash so backends spread it over their receive queues).
// The Ethernet header stays in front; the caller rewrites its MACs.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

#include "abi/table_region.h"
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
};

// Trims Ethernet padding, then prepends the outer headers of `mode` (kDsrIpip or
// kDsrGue) after the L2 header. Outer IPv4 copies the inner DSCP/ECN and DF, TTL 64;
// outer IPv6 copies the traffic class, flow label from the hash, hop limit 64; the
// IPv4 header checksum and the IPv6 UDP checksum are computed (IPv4 UDP checksum 0).
// Returns false, leaving the packet unchanged, if the mbuf has too little headroom.
bool encapsulate(rte_mbuf* m, const PacketView& view, abi::ForwardMode mode, const TunnelParams& params) noexcept;

}  // namespace eclb::dp
