// The flow region: every worker lcore's flow table in shared (hugepage) memory, owned by
// no single dataplane run. A restarted eclb-dataplane with the same worker count and
// table geometry adopts it, so established flows keep their backends across restarts
// and upgrades; eclbctl maps it read-only to list flows.
//
// Per worker: FlowWorkerHeader, then the flow table — FlowBucket[bucket_count],
// FlowEntry[bucket_count * kWays] — then the NAT table of the same geometry, whose
// entries are NatReverseEntry: for every fullnat flow, the reply direction (backend ->
// local address:port) pointing back at its flow entry.
// An entry lives in bucket (flow_hash & (bucket_count - 1)) or, since minor 1, when that
// bucket was full, in bucket ((flow_hash >> 28) & (bucket_count - 1)), which then marks the
// first one `overflowed` (lookups try the second bucket only behind such a mark);
// in one of its kWays ways;
// the bucket line holds the ways' signatures, states and last-seen times so a lookup
// reads one bucket line and, on a signature match, one entry line.
// Only the owning worker writes its table (plain stores); readers of another process
// may see an entry mid-update and must treat what they read as advisory.
//
// Since minor 2, between the header and the first worker block: the neighbour cache,
// FlowNeighbour[neighbour_capacity] at neighbour_offset — the next-hop MACs the run
// resolved, written by its control lcore, so a restarted dataplane forwards to them from
// its first packet instead of dropping until ARP/ND answer again. A region of minor 1
// has neighbour_capacity 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <type_traits>

#include "abi/region_prologue.h"
#include "abi/table_region.h"

namespace eclb::abi {

inline constexpr uint64_t kFlowRegionMagic = 0x31574C46424C4345ULL;  // "ECLBFLW1" in memory
inline constexpr uint16_t kFlowAbiMajor = 1;
inline constexpr uint16_t kFlowAbiMinor = 2;  // 1: overflow into a second bucket; 2: neighbour cache
inline constexpr uint32_t kFlowWays = 8;

// State of a flow entry; drives its idle timeout and its eviction class.
enum class FlowState : uint8_t {
  kEmpty = 0,
  kTcpSynSeen = 1,      // half-open: only SYNs so far
  kTcpEstablished = 2,  // data or ACKs seen
  kTcpClosing = 3,      // FIN seen
  kTcpClosed = 4,       // RST seen
  kUdp = 5,
};

struct FlowRegionHeader {
  // magic kFlowRegionMagic; generation: bumped by every dataplane run that attaches;
  // checksum: with owner_pid also taken as zero.
  RegionPrologue prologue;
  uint32_t worker_count;
  uint32_t bucket_count;      // per worker, a power of two
  uint64_t worker_offset;     // first worker block
  uint64_t worker_bytes;      // one worker block
  uint64_t owner_pid;         // atomic; dataplane run using the region, 0 = none
  uint64_t created_unix_ns;
  uint64_t neighbour_offset;  // minor 2: FlowNeighbour[neighbour_capacity] here (0: none)
  uint32_t neighbour_capacity;
  uint32_t reserved0;
  uint64_t reserved[4];
};

// One resolved next hop (minor 2). `valid` is written last (and cleared first) by the
// control lcore, so a run killed mid-write leaves the entry either whole or invalid.
struct FlowNeighbour {
  uint8_t address[16];        // IPv4 in bytes 0-3, rest zero
  uint8_t mac[6];
  uint16_t port_id;           // DPDK port the neighbour is on
  AddressFamily family;
  uint8_t valid;              // 1: the entry holds a resolved neighbour
  uint16_t reserved;
  uint32_t confirmed_s;       // CLOCK_MONOTONIC seconds of the last confirmation (same boot)
};

struct alignas(64) FlowWorkerHeader {
  uint64_t entries;           // occupied ways of the flow table (owner only)
  uint64_t nat_entries;       // occupied ways of the NAT table (owner only)
  uint64_t reserved[6];
};

struct alignas(64) FlowBucket {
  uint16_t signature[kFlowWays];  // (flow_hash >> 48) | 1; 0 = empty way
  FlowState state[kFlowWays];
  uint32_t last_seen_s[kFlowWays];  // CLOCK_MONOTONIC seconds
  uint64_t overflowed;  // minor 1: nonzero once a key of this bucket was placed in its second bucket
};

struct alignas(64) FlowEntry {
  uint8_t src[16];            // the flow's key, as FlowKey (flow_hash.h): client -> VIP
  uint8_t dst[16];
  uint16_t src_port_be;
  uint16_t dst_port_be;
  AddressFamily family;
  uint8_t protocol;
  uint16_t reserved0;         // part of the key: zero
  uint32_t vip_id;            // VipEntry::id
  uint32_t backend_id;        // BackendEntry::id of the chosen member
  uint32_t backend_incarnation;
  uint16_t nat_port_be;       // fullnat: local port towards the backend, 0 = none yet
  uint8_t nat_address;        // fullnat: index into the port's local address pool
  uint8_t reserved1;
  uint8_t peer_mac[6];        // fullnat: MAC the client's packets arrive from (replies go there)
  uint16_t reserved2;
};

// The reply direction of a fullnat flow: key backend -> local address:port.
struct alignas(64) NatReverseEntry {
  uint8_t src[16];            // the reply's key, as FlowKey: backend -> local address
  uint8_t dst[16];
  uint16_t src_port_be;
  uint16_t dst_port_be;
  AddressFamily family;
  uint8_t protocol;
  uint16_t reserved0;
  uint32_t forward_index;     // bucket * kFlowWays + way of the FlowEntry in this worker's flow table
  uint32_t vip_id;
  uint64_t reserved[2];
};

static_assert(std::is_standard_layout_v<FlowRegionHeader> && sizeof(FlowRegionHeader) == 128);
static_assert(offsetof(FlowRegionHeader, prologue) == 0);
static_assert(offsetof(FlowRegionHeader, worker_count) == 40);
static_assert(offsetof(FlowRegionHeader, bucket_count) == 44);
static_assert(offsetof(FlowRegionHeader, worker_offset) == 48);
static_assert(offsetof(FlowRegionHeader, worker_bytes) == 56);
static_assert(offsetof(FlowRegionHeader, owner_pid) == 64);
static_assert(offsetof(FlowRegionHeader, neighbour_offset) == 80);
static_assert(offsetof(FlowRegionHeader, neighbour_capacity) == 88);
static_assert(std::is_standard_layout_v<FlowNeighbour> && sizeof(FlowNeighbour) == 32);
static_assert(offsetof(FlowNeighbour, mac) == 16);
static_assert(offsetof(FlowNeighbour, port_id) == 22);
static_assert(offsetof(FlowNeighbour, family) == 24);
static_assert(offsetof(FlowNeighbour, valid) == 25);
static_assert(offsetof(FlowNeighbour, confirmed_s) == 28);
static_assert(sizeof(FlowWorkerHeader) == 64);
static_assert(std::is_standard_layout_v<FlowBucket> && sizeof(FlowBucket) == 64);
static_assert(offsetof(FlowBucket, state) == 16);
static_assert(offsetof(FlowBucket, last_seen_s) == 24);
static_assert(std::is_standard_layout_v<FlowEntry> && sizeof(FlowEntry) == 64);
static_assert(offsetof(FlowEntry, src_port_be) == 32);
static_assert(offsetof(FlowEntry, family) == 36);
static_assert(offsetof(FlowEntry, vip_id) == 40);
static_assert(offsetof(FlowEntry, backend_id) == 44);
static_assert(offsetof(FlowEntry, backend_incarnation) == 48);
static_assert(offsetof(FlowEntry, nat_port_be) == 52);
static_assert(offsetof(FlowEntry, nat_address) == 54);
static_assert(offsetof(FlowEntry, peer_mac) == 56);
static_assert(std::is_standard_layout_v<NatReverseEntry> && sizeof(NatReverseEntry) == 64);
static_assert(offsetof(NatReverseEntry, forward_index) == 40);
static_assert(offsetof(NatReverseEntry, vip_id) == 44);

// One table (buckets and entries) of bucket_count buckets.
constexpr uint64_t flow_table_bytes(uint32_t bucket_count) {
  return uint64_t{bucket_count} * sizeof(FlowBucket) + uint64_t{bucket_count} * kFlowWays * sizeof(FlowEntry);
}

// A worker's block: header, flow table, NAT table.
constexpr uint64_t flow_worker_bytes(uint32_t bucket_count) {
  return sizeof(FlowWorkerHeader) + 2 * flow_table_bytes(bucket_count);
}

// The flow region's header checksum (RegionPrologue::checksum).
inline uint64_t flow_header_checksum(const FlowRegionHeader& header) noexcept {
  constexpr FieldSpan kAtomic[] = {{offsetof(FlowRegionHeader, owner_pid), 8}};
  return header_checksum(&header, sizeof header, kAtomic, std::size(kAtomic));
}

}  // namespace eclb::abi
