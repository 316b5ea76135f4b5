// In-place ICMP/ICMPv6 construction (see icmp.h).
#include "dataplane/fastpath/icmp.h"

#include <rte_ip.h>

#include <algorithm>
#include <cstring>

#include "dataplane/fastpath/byte_order.h"

namespace eclb::dp {
namespace {

void set_reply_macs(uint8_t* frame, const uint8_t* port_mac) noexcept {
  std::memcpy(frame, frame + 6, 6);  // back to the sender
  std::memcpy(frame + 6, port_mac, 6);
}

void set_ipv4_checksum(uint8_t* ip) noexcept {
  ip[10] = ip[11] = 0;
  const uint16_t checksum = rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr*>(ip));
  std::memcpy(ip + 10, &checksum, 2);
}

void set_icmp_checksum(uint8_t* icmp, uint32_t length) noexcept {
  icmp[2] = icmp[3] = 0;
  const uint16_t checksum = static_cast<uint16_t>(~rte_raw_cksum(icmp, length));
  std::memcpy(icmp + 2, &checksum, 2);
}

void set_icmpv6_checksum(uint8_t* ip, uint8_t* icmp) noexcept {
  icmp[2] = icmp[3] = 0;
  const uint16_t checksum = rte_ipv6_udptcp_cksum(reinterpret_cast<const rte_ipv6_hdr*>(ip), icmp);
  std::memcpy(icmp + 2, &checksum, 2);
}

void set_frame_length(rte_mbuf* m, uint32_t length) noexcept {
  if (rte_pktmbuf_pkt_len(m) > length) {
    rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_pkt_len(m) - length));
  } else if (rte_pktmbuf_pkt_len(m) < length) {
    rte_pktmbuf_append(m, static_cast<uint16_t>(length - rte_pktmbuf_pkt_len(m)));
  }
}

}  // namespace

bool make_echo_reply(rte_mbuf* m, const PacketView& view, const uint8_t* port_mac) noexcept {
  uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
  uint8_t* ip = frame + view.l3_offset;
  uint8_t* icmp = frame + view.l4_offset;
  const uint32_t icmp_length = view.l3_offset + view.l3_length - view.l4_offset;
  set_frame_length(m, view.l3_offset + view.l3_length);  // drop padding
  set_reply_macs(frame, port_mac);
  if (view.key.family == abi::AddressFamily::kIpv4) {
    std::swap_ranges(ip + 12, ip + 16, ip + 16);
    ip[8] = 64;
    set_ipv4_checksum(ip);
    icmp[0] = kIcmpEchoReply;
    set_icmp_checksum(icmp, icmp_length);
    return true;
  }
  if (view.l4_offset != view.l3_offset + 40) return false;  // would need the extension chain rewritten
  std::swap_ranges(ip + 8, ip + 24, ip + 24);
  ip[7] = 64;
  icmp[0] = kIcmpv6EchoReply;
  set_icmpv6_checksum(ip, icmp);
  return true;
}

void make_too_big_reply(rte_mbuf* m, const PacketView& view, uint16_t mtu, const uint8_t* port_mac) noexcept {
  uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
  uint8_t* ip = frame + view.l3_offset;
  const bool ipv6 = view.key.family == abi::AddressFamily::kIpv6;
  const uint32_t header = ipv6 ? 48 : 28;  // new IP header + ICMP header
  const uint32_t quote = std::min<uint32_t>(view.l3_length, (ipv6 ? 1280 : 576) - header);
  uint8_t quoted[1280];
  std::memcpy(quoted, ip, quote);
  set_reply_macs(frame, port_mac);
  uint8_t* icmp = ip + (ipv6 ? 40 : 20);
  if (ipv6) {
    store_be32(ip, 6u << 28);
    store_be16(ip + 4, static_cast<uint16_t>(8 + quote));
    ip[6] = kProtoIcmpv6;
    ip[7] = 64;
    std::memcpy(ip + 8, quoted + 24, 16);   // from the address the packet was sent to
    std::memcpy(ip + 24, quoted + 8, 16);   // back to its source
    icmp[0] = kIcmpv6TooBig;
    icmp[1] = 0;
    store_be32(icmp + 4, mtu);
  } else {
    ip[0] = 0x45;
    ip[1] = 0;
    store_be16(ip + 2, static_cast<uint16_t>(header + quote));
    store_be16(ip + 4, 0);
    store_be16(ip + 6, 0);
    ip[8] = 64;
    ip[9] = kProtoIcmp;
    std::memcpy(ip + 12, quoted + 16, 4);
    std::memcpy(ip + 16, quoted + 12, 4);
    icmp[0] = kIcmpUnreachable;
    icmp[1] = kIcmpCodeFragNeeded;
    store_be16(icmp + 4, 0);
    store_be16(icmp + 6, mtu);
  }
  std::memcpy(icmp + 8, quoted, quote);
  set_frame_length(m, view.l3_offset + header + quote);
  if (ipv6) {
    set_icmpv6_checksum(ip, icmp);
  } else {
    set_ipv4_checksum(ip);
    set_icmp_checksum(icmp, 8 + quote);
  }
}

bool quoted_flow_key(const uint8_t* data, const PacketView& view, abi::FlowKey& key) noexcept {
  const uint32_t end = view.l3_offset + view.l3_length;
  const uint32_t quote = view.l4_offset + 8;
  if (quote >= end) return false;
  const uint8_t* inner = data + quote;
  const uint32_t available = end - quote;
  std::memset(&key, 0, sizeof key);
  uint32_t header;
  if (view.key.family == abi::AddressFamily::kIpv4) {
    if (available < 28 || (inner[0] >> 4) != 4) return false;
    header = (inner[0] & 0x0F) * 4u;
    if (header < 20 || available < header + 4) return false;
    key.family = abi::AddressFamily::kIpv4;
    key.protocol = inner[9];
    std::memcpy(key.src, inner + 16, 4);  // the quoted packet went VIP -> client
    std::memcpy(key.dst, inner + 12, 4);
  } else {
    header = 40;
    if (available < header + 4 || (inner[0] >> 4) != 6) return false;
    key.family = abi::AddressFamily::kIpv6;
    key.protocol = inner[6];
    std::memcpy(key.src, inner + 24, 16);
    std::memcpy(key.dst, inner + 8, 16);
  }
  if (key.protocol != kProtoTcp && key.protocol != kProtoUdp) return false;
  std::memcpy(&key.src_port_be, inner + header + 2, 2);
  std::memcpy(&key.dst_port_be, inner + header, 2);
  return true;
}

}  // namespace eclb::dp
