// ICMP on the per-packet path: echo replies for VIPs and local addresses, "fragmentation
// needed" / "packet too big" for packets that would not fit once encapsulated, and the
// flow of the packet quoted in an ICMP error (to steer it to that flow's backend). All
// rewrite the received mbuf in place; they are rare, so they stay out of line.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

#include "abi/flow_hash.h"
#include "dataplane/fastpath/packet_parser.h"

namespace eclb::dp {

inline constexpr uint8_t kIcmpEchoReply = 0, kIcmpUnreachable = 3, kIcmpEchoRequest = 8;
inline constexpr uint8_t kIcmpCodeFragNeeded = 4;
inline constexpr uint8_t kIcmpv6TooBig = 2, kIcmpv6EchoRequest = 128, kIcmpv6EchoReply = 129;
inline constexpr uint8_t kIcmpv6RouterSolicit = 133, kIcmpv6Redirect = 137;
inline constexpr uint8_t kIcmpv6NeighbourSolicit = 135, kIcmpv6NeighbourAdvert = 136;

// Echo request -> echo reply back to the sender (addresses and MACs swapped, source MAC
// `port_mac`). False if the request cannot be answered (IPv6 extension headers).
[[gnu::cold]] bool make_echo_reply(rte_mbuf* m, const PacketView& view, const uint8_t* port_mac) noexcept;

// Replaces the packet by an ICMP "fragmentation needed" (IPv4) or ICMPv6 "packet too
// big" carrying `mtu`, from the packet's destination back to its source, quoting as much
// of it as RFC 1812 / RFC 4443 allow (576 / 1280 bytes in all).
[[gnu::cold]] void make_too_big_reply(rte_mbuf* m, const PacketView& view, uint16_t mtu,
                                      const uint8_t* port_mac) noexcept;

// For an ICMP "fragmentation needed" / ICMPv6 "packet too big" about a packet a backend
// sent from a VIP to a client: the key of the client -> VIP flow. False if the quote is
// too short or not TCP/UDP.
[[gnu::cold]] bool quoted_flow_key(const uint8_t* data, const PacketView& view, abi::FlowKey& key) noexcept;

}  // namespace eclb::dp
