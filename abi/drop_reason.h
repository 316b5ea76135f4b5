// DropReason: why the dataplane dropped a packet. The numeric values index the per-lcore
// drop counters of the stats region, so they are ABI: append only, never renumber.
#pragma once

#include <cstdint>
#include <string_view>

namespace eclb::abi {

enum class DropReason : uint8_t {
  kTruncated = 0,          // a header is cut short
  kBadL2 = 1,              // unknown ethertype, more than one VLAN tag
  kBadIpHeader = 2,        // version, IHL, total/payload length inconsistent
  kBadL4Header = 3,        // TCP data offset, UDP length
  kIpv6Extensions = 4,     // extension chain too long or not allowed
  kFragment = 5,           // fragment of VIP traffic (not forwarded, see README)
  kNotForUs = 6,           // destination is no VIP or local address
  kNoVipForPort = 7,       // VIP address, but no VIP on that protocol/port
  kNoBackend = 8,          // VIP has no up backend
  kNeighbourUnresolved = 9,  // next-hop MAC of the backend not known (yet)
  kTooBig = 10,            // would exceed the MTU once encapsulated (ICMP sent when possible)
  kIcmpUnhandled = 11,     // ICMP/ICMPv6 type the balancer does not act on
  kTxFull = 12,            // transmit queue full
  kSlowPathFull = 13,      // ring to the control lcore full
  kMultiSegment = 14,      // chained mbuf (jumbo): not supported
  kNoTable = 15,           // no table published yet
  kNoMbuf = 16,            // could not allocate a reply
  kBadIcmpQuote = 17,      // ICMP error quoting something that is not a VIP flow
  kSlowPathDrop = 18,      // ARP/ND not handled by the control lcore
  kUnsupportedMode = 19,   // VIP forwarding mode this dataplane cannot forward yet
  kNoLocalAddress = 20,    // no local address of the VIP's family on the port (tunnel / NAT source)
  kNatPortsExhausted = 21,  // fullnat: no free local port towards the backend
  kNatNoSession = 22,      // fullnat: a reply to a local address:port with no (live) session
  kFlowTableFull = 23,     // fullnat: the flow table had no way this new flow may take
  kExceptionFull = 24,     // the exception port (towards the kernel) did not take the packet
  kForeignMac = 25,        // unicast to another MAC (a flooded frame on a shared segment)
  kBadIpChecksum = 26,     // IPv4 header checksum wrong (the port's verdict, or computed)
  kTtlExceeded = 27,       // fullnat: TTL / hop limit would reach 0 at this hop
  kMartianSource = 28,     // source 0.0.0.0/8, 127/8, multicast or reserved, ::, ::1, ff00::/8, or a VIP / local address
  kCount = 29,
};

inline constexpr uint32_t kDropReasonSlots = 32;  // counter slots reserved in the stats region
static_assert(static_cast<uint32_t>(DropReason::kCount) <= kDropReasonSlots);

constexpr std::string_view drop_reason_name(DropReason reason) {
  switch (reason) {
    case DropReason::kTruncated: return "truncated";
    case DropReason::kBadL2: return "bad_l2";
    case DropReason::kBadIpHeader: return "bad_ip_header";
    case DropReason::kBadL4Header: return "bad_l4_header";
    case DropReason::kIpv6Extensions: return "ipv6_extensions";
    case DropReason::kFragment: return "fragment";
    case DropReason::kNotForUs: return "not_for_us";
    case DropReason::kNoVipForPort: return "no_vip_for_port";
    case DropReason::kNoBackend: return "no_backend";
    case DropReason::kNeighbourUnresolved: return "neighbour_unresolved";
    case DropReason::kTooBig: return "too_big";
    case DropReason::kIcmpUnhandled: return "icmp_unhandled";
    case DropReason::kTxFull: return "tx_full";
    case DropReason::kSlowPathFull: return "slow_path_full";
    case DropReason::kMultiSegment: return "multi_segment";
    case DropReason::kNoTable: return "no_table";
    case DropReason::kNoMbuf: return "no_mbuf";
    case DropReason::kBadIcmpQuote: return "bad_icmp_quote";
    case DropReason::kSlowPathDrop: return "slow_path_drop";
    case DropReason::kUnsupportedMode: return "unsupported_mode";
    case DropReason::kNoLocalAddress: return "no_local_address";
    case DropReason::kNatPortsExhausted: return "nat_ports_exhausted";
    case DropReason::kNatNoSession: return "nat_no_session";
    case DropReason::kFlowTableFull: return "flow_table_full";
    case DropReason::kExceptionFull: return "exception_full";
    case DropReason::kForeignMac: return "foreign_mac";
    case DropReason::kBadIpChecksum: return "bad_ip_checksum";
    case DropReason::kTtlExceeded: return "ttl_exceeded";
    case DropReason::kMartianSource: return "martian_source";
    case DropReason::kCount: break;
  }
  return "unknown";
}

}  // namespace eclb::abi
