// Address/port rewriting with incremental checksums, and MSS clamping.
#include "dataplane/fastpath/nat_rewrite.h"

#include <cstring>

#include "dataplane/fastpath/byte_order.h"
#include "dataplane/fastpath/checksum.h"

namespace eclb::dp {

void rewrite_tuple(uint8_t* frame, const PacketView& view, const uint8_t* src, uint16_t src_port_be,
                   const uint8_t* dst, uint16_t dst_port_be) noexcept {
  const bool ipv6 = view.key.family == abi::AddressFamily::kIpv6;
  const uint32_t address_bytes = ipv6 ? 16 : 4;
  uint8_t* ip = frame + view.l3_offset;
  uint8_t* src_field = ip + (ipv6 ? 8 : 12);
  uint8_t* dst_field = ip + (ipv6 ? 24 : 16);
  uint8_t* l4 = frame + view.l4_offset;

  ChecksumDelta addresses;
  addresses.replace(src_field, src, address_bytes);
  addresses.replace(dst_field, dst, address_bytes);
  if (!ipv6) addresses.apply(ip + 10);  // the IPv4 header checksum covers the addresses

  // The TCP/UDP checksum covers the addresses (pseudo-header) and the ports.
  ChecksumDelta l4_delta = addresses;
  l4_delta.replace16(load_u16(l4), src_port_be);
  l4_delta.replace16(load_u16(l4 + 2), dst_port_be);
  uint8_t* check = l4 + (view.l4_protocol == kProtoTcp ? 16 : 6);
  const bool udp_without_checksum = view.l4_protocol == kProtoUdp && !ipv6 && load_u16(check) == 0;
  if (!udp_without_checksum) {
    l4_delta.apply(check);
    if (view.l4_protocol == kProtoUdp && load_u16(check) == 0) std::memset(check, 0xFF, 2);  // 0 means "none"
  }
  std::memcpy(src_field, src, address_bytes);
  std::memcpy(dst_field, dst, address_bytes);
  std::memcpy(l4, &src_port_be, 2);
  std::memcpy(l4 + 2, &dst_port_be, 2);
}

bool decrement_hop_limit(uint8_t* frame, const PacketView& view) noexcept {
  uint8_t* ip = frame + view.l3_offset;
  if (view.key.family == abi::AddressFamily::kIpv6) {
    if (ip[7] <= 1) return false;
    --ip[7];
    return true;
  }
  if (ip[8] <= 1) return false;
  const uint16_t before = load_u16(ip + 8);  // TTL and protocol: one checksum word
  --ip[8];
  ChecksumDelta delta;
  delta.replace16(before, load_u16(ip + 8));
  delta.apply(ip + 10);
  return true;
}

bool clamp_mss(uint8_t* frame, const PacketView& view, uint16_t mss) noexcept {
  if (view.l4_protocol != kProtoTcp || !(view.tcp_flags & kTcpSyn)) return false;
  uint8_t* tcp = frame + view.l4_offset;
  const uint32_t header = (tcp[12] >> 4) * 4u;  // validated by the parser
  uint32_t offset = 20;
  while (offset < header) {
    const uint8_t kind = tcp[offset];
    if (kind == 0) break;  // end of options
    if (kind == 1) {       // no-op
      ++offset;
      continue;
    }
    if (offset + 1 >= header) break;
    const uint8_t length = tcp[offset + 1];
    if (length < 2 || offset + length > header) break;
    if (kind == 2 && length == 4) {
      const uint16_t current = load_be16(tcp + offset + 2);
      if (current <= mss) return false;
      // After odd-length options the value straddles two checksum words: account for
      // the even-aligned bytes around it (inside the header: its length is a multiple of 4).
      const uint32_t first = (offset + 2) & ~1u;
      const uint32_t end = (offset + 4 + 1) & ~1u;
      uint8_t before[4];
      std::memcpy(before, tcp + first, end - first);
      store_be16(tcp + offset + 2, mss);
      ChecksumDelta delta;
      delta.replace(before, tcp + first, end - first);
      delta.apply(tcp + 16);
      return true;
    }
    offset += length;
  }
  return false;
}

}  // namespace eclb::dp
