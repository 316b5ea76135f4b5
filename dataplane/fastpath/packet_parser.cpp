// Header walk with bounds checks at every step (see packet_parser.h).
#include "dataplane/fastpath/packet_parser.h"

#include <cstring>

#include "dataplane/fastpath/byte_order.h"

namespace eclb::dp {
namespace {

using abi::DropReason;

constexpr ParseResult drop(DropReason reason) noexcept { return {PacketKind::kDrop, reason}; }

// Ports, TCP flags and ICMP type of the L4 header at view.l4_offset; `end` is the end
// of the IP packet (per its length field).
ParseResult parse_l4(const uint8_t* data, uint32_t end, PacketView& view, PacketKind kind) noexcept {
  if (view.is_fragment) return {kind, DropReason::kCount};  // no L4 header to trust
  const uint32_t offset = view.l4_offset;
  const uint32_t available = end > offset ? end - offset : 0;
  const uint8_t* l4 = data + offset;
  switch (view.l4_protocol) {
    case kProtoTcp: {
      if (available < 20) return drop(DropReason::kTruncated);
      const uint32_t header = (l4[12] >> 4) * 4u;
      if (header < 20 || header > available) return drop(DropReason::kBadL4Header);
      std::memcpy(&view.key.src_port_be, l4, 2);
      std::memcpy(&view.key.dst_port_be, l4 + 2, 2);
      view.tcp_flags = l4[13];
      break;
    }
    case kProtoUdp: {
      if (available < 8) return drop(DropReason::kTruncated);
      const uint32_t udp_length = load_be16(l4 + 4);
      if (udp_length < 8 || udp_length > available) return drop(DropReason::kBadL4Header);
      std::memcpy(&view.key.src_port_be, l4, 2);
      std::memcpy(&view.key.dst_port_be, l4 + 2, 2);
      break;
    }
    case kProtoIcmp:
    case kProtoIcmpv6:
      if (available < 8) return drop(DropReason::kTruncated);
      view.icmp_type = l4[0];
      view.icmp_code = l4[1];
      break;
    default:
      break;
  }
  return {kind, DropReason::kCount};
}

ParseResult parse_ipv4(const uint8_t* data, uint32_t length, PacketView& view) noexcept {
  const uint32_t l3 = view.l3_offset;
  if (length < l3 + 20) return drop(DropReason::kTruncated);
  const uint8_t* ip = data + l3;
  if ((ip[0] >> 4) != 4) return drop(DropReason::kBadIpHeader);
  const uint32_t header = (ip[0] & 0x0F) * 4u;
  const uint32_t total = load_be16(ip + 2);
  if (header < 20 || total < header) return drop(DropReason::kBadIpHeader);
  if (l3 + total > length) return drop(DropReason::kTruncated);
  const uint16_t fragment = load_be16(ip + 6);
  view.dont_fragment = (fragment & 0x4000) != 0;
  view.is_fragment = (fragment & 0x3FFF) != 0;
  view.l3_length = static_cast<uint16_t>(total);
  view.l4_offset = static_cast<uint16_t>(l3 + header);
  view.l4_protocol = ip[9];
  view.key.family = abi::AddressFamily::kIpv4;
  view.key.protocol = ip[9];
  std::memcpy(view.key.src, ip + 12, 4);
  std::memcpy(view.key.dst, ip + 16, 4);
  return parse_l4(data, l3 + total, view, PacketKind::kIpv4);
}

ParseResult parse_ipv6(const uint8_t* data, uint32_t length, PacketView& view) noexcept {
  const uint32_t l3 = view.l3_offset;
  if (length < l3 + 40) return drop(DropReason::kTruncated);
  const uint8_t* ip = data + l3;
  if ((ip[0] >> 4) != 6) return drop(DropReason::kBadIpHeader);
  const uint32_t payload = load_be16(ip + 4);
  if (payload == 0) return drop(DropReason::kBadIpHeader);  // jumbogram or empty: never ours
  const uint32_t end = l3 + 40 + payload;
  if (end > length) return drop(DropReason::kTruncated);
  view.l3_length = static_cast<uint16_t>(40 + payload);
  view.key.family = abi::AddressFamily::kIpv6;
  std::memcpy(view.key.src, ip + 8, 16);
  std::memcpy(view.key.dst, ip + 24, 16);

  uint8_t next = ip[6];
  uint32_t offset = l3 + 40;
  for (uint32_t count = 0;; ++count) {
    if (next != 0 && next != 43 && next != 44 && next != 51 && next != 60) break;
    if (count == kMaxIpv6ExtensionHeaders) return drop(DropReason::kIpv6Extensions);
    if (next == 0 && count != 0) return drop(DropReason::kIpv6Extensions);  // hop-by-hop must be first
    if (offset + 8 > end) return drop(DropReason::kTruncated);
    const uint8_t* extension = data + offset;
    uint32_t size;
    if (next == 44) {  // fragment header: fixed 8 bytes
      size = 8;
      view.is_fragment = 1;
    } else if (next == 51) {  // AH: (payload length + 2) 4-byte units
      size = (extension[1] + 2u) * 4u;
    } else {
      size = (extension[1] + 1u) * 8u;
    }
    if (offset + size > end) return drop(DropReason::kTruncated);
    next = extension[0];
    offset += size;
    if (view.is_fragment) break;
  }
  view.l4_offset = static_cast<uint16_t>(offset);
  view.l4_protocol = next;
  view.key.protocol = next;
  return parse_l4(data, end, view, PacketKind::kIpv6);
}

}  // namespace

ParseResult parse_packet_general(const uint8_t* data, uint32_t length, PacketView& view) noexcept {
  if (length < 14) return drop(DropReason::kTruncated);
  uint16_t ethertype = load_be16(data + 12);
  uint32_t l3 = 14;
  if (ethertype == kEtherTypeVlan) {
    if (length < 18) return drop(DropReason::kTruncated);
    view.has_vlan = 1;
    view.vlan_tci = load_be16(data + 14);
    ethertype = load_be16(data + 16);
    l3 = 18;
    if (ethertype == kEtherTypeVlan || ethertype == 0x88A8) return drop(DropReason::kBadL2);
  }
  view.l3_offset = static_cast<uint16_t>(l3);
  switch (ethertype) {
    case kEtherTypeIpv4: return parse_ipv4(data, length, view);
    case kEtherTypeIpv6: return parse_ipv6(data, length, view);
    case kEtherTypeArp:
      if (length < l3 + 28) return drop(DropReason::kTruncated);
      return {PacketKind::kArp, DropReason::kCount};
    default: return drop(DropReason::kBadL2);
  }
}

}  // namespace eclb::dp
