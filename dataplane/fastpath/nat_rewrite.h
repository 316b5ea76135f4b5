// Full NAT packet rewriting: a packet's addresses and ports replaced in place with the
// IPv4 header checksum and the TCP/UDP checksum updated incrementally, and optional TCP
// MSS clamping on SYNs. Per-packet path: noexcept, no allocation.
#pragma once

#include <cstdint>

#include "dataplane/fastpath/packet_parser.h"

namespace eclb::dp {

// Source becomes (src, src_port_be), destination (dst, dst_port_be); addresses are 4 or
// 16 bytes per the packet's family. A UDP/IPv4 packet without checksum keeps none.
void rewrite_tuple(uint8_t* frame, const PacketView& view, const uint8_t* src, uint16_t src_port_be,
                   const uint8_t* dst, uint16_t dst_port_be) noexcept;

// Fullnat is a routing hop: lowers the IPv4 TTL (checksum updated) or the IPv6 hop
// limit by one. Returns false, changing nothing, if it is 1 or 0 (the packet must die).
bool decrement_hop_limit(uint8_t* frame, const PacketView& view) noexcept;

// Lowers the MSS option of a TCP SYN to `mss` if it is larger (RFC 879 option, kind 2).
// Returns true if the option was changed.
bool clamp_mss(uint8_t* frame, const PacketView& view, uint16_t mss) noexcept;

}  // namespace eclb::dp
