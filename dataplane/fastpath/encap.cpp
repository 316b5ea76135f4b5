// Outer header construction for dsr-ipip and dsr-gue.
#include "dataplane/fastpath/encap.h"

#include <rte_ip.h>

#include <cstring>

#include "dataplane/fastpath/byte_order.h"

namespace eclb::dp {
namespace {

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
  std::memmove(front, front + kOverhead, l2);
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
    const uint16_t checksum = rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr*>(outer));
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
