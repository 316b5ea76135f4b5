// parse_packet: Ethernet (+ one VLAN tag), ARP, IPv4 (with options), IPv6 (common
// extension headers skipped), TCP, UDP, ICMP and ICMPv6, from the contiguous bytes of a
// received frame. Every length is checked against the frame before it is read; what
// does not parse is a drop with a reason. Per-packet path: noexcept, no allocation.
#pragma once

#include <cstdint>
#include <cstring>

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

// Every frame, by the full walk (VLAN, IPv4 options, IPv6 extensions, ARP, drops).
// `view` must be zeroed. `length` is the frame length without FCS. On kDrop, `view` is
// partially filled.
ParseResult parse_packet_general(const uint8_t* data, uint32_t length, PacketView& view) noexcept;

// The same result as parse_packet_general (packet_parser_test compares them on every
// frame shape and on random mutations), with the common frame — untagged IPv4 without
// options, not a fragment, TCP or UDP with consistent lengths — decided in a few loads
// and compares on the per-packet path; anything else takes the full walk. `view` must
// be zeroed.
inline ParseResult parse_packet(const uint8_t* data, uint32_t length, PacketView& view) noexcept {
  if (length >= 14 + 20 + 8 && data[12] == 0x08 && data[13] == 0x00 && data[14] == 0x45) [[likely]] {
    const uint8_t* ip = data + 14;
    const uint32_t total = uint32_t{ip[2]} << 8 | ip[3];
    const uint8_t protocol = ip[9];
    const uint8_t* l4 = ip + 20;
    const bool not_fragment = ((ip[6] & 0x3F) | ip[7]) == 0;
    if (not_fragment && 14 + total <= length) {
      bool whole = false;
      if (protocol == kProtoTcp) {
        if (total >= 20 + 20) {  // so 14 + 20 + 20 <= length: the TCP header is readable
          const uint32_t header = (uint32_t{l4[12]} >> 4) * 4u;
          whole = header >= 20 && header <= total - 20;
          view.tcp_flags = l4[13];
        }
      } else if (protocol == kProtoUdp) {
        const uint32_t udp_length = uint32_t{l4[4]} << 8 | l4[5];
        whole = total >= 20 + 8 && udp_length >= 8 && udp_length <= total - 20;
      }
      if (whole) [[likely]] {
        view.l3_offset = 14;
        view.l4_offset = 14 + 20;
        view.l3_length = static_cast<uint16_t>(total);
        view.l4_protocol = protocol;
        view.dont_fragment = (ip[6] & 0x40) != 0;
        view.key.family = abi::AddressFamily::kIpv4;
        view.key.protocol = protocol;
        // Addresses as 8-byte stores (bytes 4-7 zero, 8-15 zeroed by the caller): the
        // VIP lookup reads them as 8-byte words, which a 4-byte store could not forward.
        uint64_t src = 0, dst = 0;
        std::memcpy(&src, ip + 12, 4);
        std::memcpy(&dst, ip + 16, 4);
        std::memcpy(view.key.src, &src, 8);
        std::memcpy(view.key.dst, &dst, 8);
        std::memcpy(&view.key.src_port_be, l4, 2);
        std::memcpy(&view.key.dst_port_be, l4 + 2, 2);
        return {PacketKind::kIpv4, abi::DropReason::kCount};
      }
      view.tcp_flags = 0;
    }
  }
  return parse_packet_general(data, length, view);
}

}  // namespace eclb::dp
