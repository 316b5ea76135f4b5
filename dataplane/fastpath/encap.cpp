// Outer header construction for dsr-ipip and dsr-gue.
#include "dataplane/fastpath/encap.h"

#include <rte_ip.h>

#include <cstring>

#include "dataplane/fastpath/byte_order.h"

namespace eclb::dp {
namespace {

// Checksum of a 20-byte IPv4 header (checksum field zero), summed as five 32-bit words:
// cheaper than the generic 16-bit loop of rte_ipv4_cksum on the per-packet path.
inline uint16_t ipv4_header_checksum(const uint8_t* header) noexcept {
  uint64_t sum = 0;
  for (int i = 0; i < 5; ++i) {
    uint32_t word;
    std::memcpy(&word, header + 4 * i, 4);
    sum += word;
  }
  sum = (sum & 0xFFFFFFFF) + (sum >> 32);
  sum = (sum & 0xFFFF) + (sum >> 16);
  sum = (sum & 0xFFFF) + (sum >> 16);
  sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// Moves the L2 header to the new front; constant sizes so the copy is inlined.
inline void move_l2(uint8_t* front, uint16_t overhead, uint16_t l2) noexcept {
  if (l2 == 14) {
    std::memmove(front, front + overhead, 14);
  } else {
    std::memmove(front, front + overhead, 18);
  }
}

template <bool kIpv6, bool kGue>
bool encapsulate_as(rte_mbuf* m, const PacketView& view, const TunnelParams& params) noexcept {
  constexpr uint16_t kIpHeader = kIpv6 ? 40 : 20;
  constexpr uint16_t kOverhead = kGue ? kIpHeader + 8 : kIpHeader;
  const uint16_t l2 = view.l3_offset;
  // Drop Ethernet padding so the outer length fields describe exactly the inner packet.
  const uint32_t frame = uint32_t{l2} + view.l3_length;
  if (rte_pktmbuf_pkt_len(m) > frame) rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_pkt_len(m) - frame));
  uint8_t* front = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, kOverhead));
  if (front == nullptr) return false;
  move_l2(front, kOverhead, l2);
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
    outer[0] = 0x45;
    outer[1] = inner[1];  // DSCP and ECN
    store_be16(outer + 2, static_cast<uint16_t>(kOverhead + inner_length));
    store_be16(outer + 4, params.ip_id);
    store_be16(outer + 6, view.dont_fragment ? 0x4000 : 0);
    outer[8] = 64;
    outer[9] = kGue ? kProtoUdp : kProtoIpip;
    outer[10] = outer[11] = 0;
    std::memcpy(outer + 12, params.outer_src, 4);
    std::memcpy(outer + 16, params.outer_dst, 4);
    const uint16_t checksum = ipv4_header_checksum(outer);
    std::memcpy(outer + 10, &checksum, 2);
  }
  if constexpr (kGue) {
    uint8_t* udp = outer + kIpHeader;
    store_be16(udp, gue_source_port(params.flow_hash));
    store_be16(udp + 2, params.gue_port);
    store_be16(udp + 4, static_cast<uint16_t>(8 + inner_length));
    udp[6] = udp[7] = 0;
    if constexpr (kIpv6) {  // mandatory over IPv6 (RFC 8200 8.1)
      const uint16_t checksum =
          rte_ipv6_udptcp_cksum(reinterpret_cast<const rte_ipv6_hdr*>(outer), udp);
      std::memcpy(udp + 6, &checksum, 2);
    }
  }
  return true;
}

}  // namespace

bool encapsulate(rte_mbuf* m, const PacketView& view, abi::ForwardMode mode, const TunnelParams& params) noexcept {
  const bool ipv6 = view.key.family == abi::AddressFamily::kIpv6;
  const bool gue = mode == abi::ForwardMode::kDsrGue;
  if (ipv6) return gue ? encapsulate_as<true, true>(m, view, params) : encapsulate_as<true, false>(m, view, params);
  return gue ? encapsulate_as<false, true>(m, view, params) : encapsulate_as<false, false>(m, view, params);
}

}  // namespace eclb::dp
