// parse_packet: Ethernet (+ one VLAN tag), ARP, IPv4 (with options), IPv6 (common
// extension headers skipped), TCP, UDP, ICMP and ICMPv6, from the contiguous bytes of a
// received frame. Every length is checked against the frame before it is read; what
// does not parse is a drop with a reason. Per-packet path: noexcept, no allocation.
#pragma once

#include <cstdint>

#include "abi/drop_reason.h"
#include "abi/flow_hash.h"

namespace eclb::dp {

inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeIpv6 = 0x86DD;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr uint16_t kEtherTypeVlan = 0x8100;
inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoIpip = 4;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoIpv6 = 41;
inline constexpr uint8_t kProtoIcmpv6 = 58;
inline constexpr uint8_t kTcpFin = 0x01, kTcpSyn = 0x02, kTcpRst = 0x04, kTcpAck = 0x10;
inline constexpr uint32_t kMaxIpv6ExtensionHeaders = 8;

enum class PacketKind : uint8_t { kDrop, kIpv4, kIpv6, kArp };

struct PacketView {
  uint16_t l3_offset = 0;     // bytes before the IP/ARP header (Ethernet + VLAN)
  uint16_t l4_offset = 0;     // bytes before the L4 header (after IPv6 extensions)
  uint16_t l3_length = 0;     // IP header + payload per the IP header (frame padding excluded)
  uint16_t vlan_tci = 0;      // host order; valid when has_vlan
  uint8_t has_vlan = 0;
  uint8_t l4_protocol = 0;    // after the extension chain
  uint8_t tcp_flags = 0;
  uint8_t icmp_type = 0;
  uint8_t icmp_code = 0;
  uint8_t is_fragment = 0;    // IPv4 MF/offset or an IPv6 fragment header
  uint8_t dont_fragment = 0;  // IPv4 DF (IPv6 never fragments in transit)
  uint8_t reserved = 0;
  abi::FlowKey key{};         // ports zero for fragments and port-less protocols
};

struct ParseResult {
  PacketKind kind;
  abi::DropReason reason;  // meaningful when kind == kDrop
};

// `length` is the frame length without FCS. On kDrop, `view` is partially filled.
ParseResult parse_packet(const uint8_t* data, uint32_t length, PacketView& view) noexcept;

}  // namespace eclb::dp
