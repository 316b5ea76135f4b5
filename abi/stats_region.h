// The stats region: eclb-dataplane's counters in shared memory, per worker lcore, per VIP
// and per backend (indexed by the stable ids of the table region), plus drops by reason.
// Each lcore writes only its own block (relaxed stores, no locked read-modify-write);
// eclbctl and eclb-control's metrics read and sum them (relaxed loads). Counters are
// monotonic for the life of a dataplane run; `generation` changes when a new run starts.
// Since minor 2, after the lcore blocks: the slow path's counters (the control lcore's
// ARP/ND work) and one PortStats block per port — the port's own counters (rte_eth_stats
// and the PMD's extended statistics), which see what never reached a worker (a full RX
// ring, no mbuf), written by the control lcore about every 100 ms.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <type_traits>

#include "abi/drop_reason.h"
#include "abi/region_prologue.h"

namespace eclb::abi {

inline constexpr uint64_t kStatsRegionMagic = 0x31415453424C4345ULL;  // "ECLBSTA1" in memory
inline constexpr uint16_t kStatsAbiMajor = 1;
inline constexpr uint16_t kStatsAbiMinor = 2;  // 1: exception_packets, drop exception_full; 2: slow path, ports
inline constexpr uint32_t kMaxPortXstats = 256;

struct StatsHeader {
  // magic kStatsRegionMagic; generation: start time (unix ns) of the run writing the
  // counters; checksum: with dataplane_pid and heartbeat_unix_ns also taken as zero.
  RegionPrologue prologue;
  uint32_t lcore_count;        // worker lcores
  uint32_t max_vips;
  uint32_t max_backends;
  uint32_t drop_slots;         // kDropReasonSlots
  uint64_t lcore_offset;       // first LcoreStats block
  uint64_t lcore_bytes;        // size of one lcore's block (LcoreStats + VIP + backend arrays)
  uint64_t dataplane_pid;      // atomic
  uint64_t heartbeat_unix_ns;  // atomic; refreshed about every 100 ms while the dataplane runs
  uint64_t slow_path_offset;   // minor 2: SlowPathStats (0: none)
  uint64_t port_offset;        // minor 2: PortStats[port_count]
  uint32_t port_count;
  uint32_t port_bytes;         // size of one PortStats
  uint64_t reserved[2];
};

// The control lcore's neighbour work (minor 2).
struct alignas(64) SlowPathStats {
  uint64_t arp_replies;        // ARP requests for our addresses answered
  uint64_t na_sent;            // neighbour solicitations for our addresses answered
  uint64_t requests_sent;      // ARP requests / solicitations sent to resolve next hops
  uint64_t learned;            // replies that resolved or confirmed a next hop
  uint64_t ignored;            // ARP / ND about nobody of ours (passed to the kernel if there is an exception port)
  uint64_t to_kernel;          // handed to the exception port
  uint64_t dropped;            // not ours and no exception port: dropped (readers add it to drops[kSlowPathDrop])
  uint64_t reserved[9];
};

// One extended statistic of a port, as the PMD names it.
struct PortXstat {
  char name[56];               // NUL-terminated (truncated to 55 characters)
  uint64_t value;
};

// A port's own counters (minor 2): what the NIC / PMD saw, before any worker did.
struct alignas(64) PortStats {
  uint32_t port_id;
  uint32_t xstat_count;        // valid entries of xstats (the first kMaxPortXstats the PMD reports)
  char driver[32];             // NUL-terminated driver name
  uint64_t reserved0[3];
  uint64_t ipackets;           // rte_eth_stats
  uint64_t opackets;
  uint64_t ibytes;
  uint64_t obytes;
  uint64_t imissed;            // dropped by the port: RX ring full
  uint64_t ierrors;            // erroneous frames received
  uint64_t oerrors;            // failed transmissions
  uint64_t rx_nombuf;          // no mbuf to receive into
  PortXstat xstats[kMaxPortXstats];
};

struct alignas(64) LcoreStats {
  uint64_t rx_packets;
  uint64_t rx_bytes;
  uint64_t tx_packets;
  uint64_t tx_bytes;
  uint64_t table_generation;   // generation this lcore forwards with
  uint64_t flow_entries;       // occupied flow entries (refreshed by the lcore now and then)
  uint64_t flow_inserts;
  uint64_t flow_evictions_established;  // idle established entries displaced under pressure
  uint64_t flow_evictions_other;        // half-open / closed / expired entries reused
  uint64_t flow_guard_skips;   // new flows forwarded without an entry (rate guard)
  uint64_t flow_repicks;       // flows whose backend left: picked again
  uint64_t slow_path_packets;  // ARP / ND handed to the control lcore
  uint64_t icmp_echo_replies;
  uint64_t icmp_too_big_sent;
  uint64_t icmp_errors_forwarded;  // frag-needed / packet-too-big steered to a backend
  uint64_t fragments;          // VIP fragments seen (also counted as drops)
  uint64_t nat_sessions;       // fullnat: local ports mapped (new flows and re-picks)
  uint64_t nat_replies;        // fullnat: backend replies translated back to clients
  uint64_t exception_packets;  // handed to the kernel through the port's exception port
  uint64_t syn_unrecorded;     // DSR SYNs forwarded by Maglev without a flow entry (SYN flood)
  uint64_t reserved[12];
  uint64_t drops[kDropReasonSlots];
};

struct VipStats {
  uint64_t packets;
  uint64_t bytes;
  uint64_t new_flows;
  uint64_t no_backend_drops;
};

struct BackendStats {
  uint64_t packets;
  uint64_t bytes;
  uint64_t new_flows;
  uint64_t reserved;
};

static_assert(std::is_standard_layout_v<StatsHeader> && sizeof(StatsHeader) == 128);
static_assert(offsetof(StatsHeader, prologue) == 0);
static_assert(offsetof(StatsHeader, lcore_count) == 40);
static_assert(offsetof(StatsHeader, lcore_offset) == 56);
static_assert(offsetof(StatsHeader, lcore_bytes) == 64);
static_assert(offsetof(StatsHeader, dataplane_pid) == 72);
static_assert(offsetof(StatsHeader, heartbeat_unix_ns) == 80);
static_assert(offsetof(StatsHeader, slow_path_offset) == 88);
static_assert(offsetof(StatsHeader, port_offset) == 96);
static_assert(offsetof(StatsHeader, port_count) == 104);
static_assert(offsetof(StatsHeader, port_bytes) == 108);
static_assert(std::is_standard_layout_v<SlowPathStats> && sizeof(SlowPathStats) == 128);
static_assert(sizeof(PortXstat) == 64);
static_assert(std::is_standard_layout_v<PortStats> && sizeof(PortStats) == 128 + kMaxPortXstats * 64);
static_assert(offsetof(PortStats, driver) == 8);
static_assert(offsetof(PortStats, ipackets) == 64);
static_assert(offsetof(PortStats, imissed) == 96);
static_assert(offsetof(PortStats, rx_nombuf) == 120);
static_assert(offsetof(PortStats, xstats) == 128);
static_assert(std::is_standard_layout_v<LcoreStats> && sizeof(LcoreStats) == 512);
static_assert(offsetof(LcoreStats, table_generation) == 32);
static_assert(offsetof(LcoreStats, drops) == 256);
static_assert(sizeof(VipStats) == 32 && sizeof(BackendStats) == 32);

// Layout of one lcore block: LcoreStats, then VipStats[max_vips], then
// BackendStats[max_backends]; blocks are 64-byte aligned and back to back.
constexpr uint64_t stats_lcore_bytes(uint32_t max_vips, uint32_t max_backends) {
  const uint64_t bytes = sizeof(LcoreStats) + uint64_t{max_vips} * sizeof(VipStats) +
                         uint64_t{max_backends} * sizeof(BackendStats);
  return (bytes + 63) / 64 * 64;
}

// The stats region's header checksum (RegionPrologue::checksum).
inline uint64_t stats_header_checksum(const StatsHeader& header) noexcept {
  constexpr FieldSpan kAtomic[] = {{offsetof(StatsHeader, dataplane_pid), 8}, {offsetof(StatsHeader, heartbeat_unix_ns), 8}};
  return header_checksum(&header, sizeof header, kAtomic, std::size(kAtomic));
}

}  // namespace eclb::abi
