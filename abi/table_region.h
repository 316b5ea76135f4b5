// The table region: the shared-memory contract through which eclb-control publishes
// VIPs, backends and one Maglev table per VIP, and eclb-dataplane and eclbctl read them.
// This header is the only definition of the layout; writer, readers and tests include it.
//
// Layout (all offsets from the start of the mapping, all integers little-endian
// because the region never leaves the host):
//
//   RegionHeader                      offset 0, 128 bytes
//   ReaderSlot[max_readers]           at reader_offset, 64 bytes each
//   Copy 0, Copy 1                    at copy_offset[i], copy_bytes each, 4 KiB aligned
//     CopyHeader                      128 bytes
//     VipEntry[max_vips]              at CopyHeader::vips_offset
//     BackendEntry[max_backends]      at CopyHeader::backends_offset
//     uint32_t vip_index[vip_index_capacity]   open-addressing VIP lookup
//     uint32_t address_index[vip_index_capacity]  the same, keyed by address only
//     uint32_t backend_by_id[max_backends]     stable member id -> backend position
//     uint32_t slots[max_table_slots]          every VIP's Maglev table, back to back
//
// Publication protocol (writer = eclb-control, one at a time):
//   1. The next generation g+1 goes to copy (g+1) % kTableCopies, the one not active.
//   2. The writer waits until every registered reader has recorded seen_generation >= g
//      (it can no longer touch the copy that held g-1). A reader that does not move within
//      the grace period is evicted; a reader whose process is gone is reaped.
//   3. The writer stores copy.generation = 0 (release), fills the copy, computes its
//      checksum, stores copy.generation = g+1 (release), then header.generation = g+1
//      (release).
// Registered readers (dataplane workers), once per burst: g = header.generation (acquire);
// if it changed, store seen_generation = g (release) before touching copy g % 2.
// Snapshot readers (eclbctl, read-only mapping): load copy.generation (acquire), copy the
// data out, fence (acquire), reload copy.generation and verify the checksum; retry if
// either changed. Atomic fields are plain integers accessed through std::atomic_ref.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <type_traits>

#include "abi/region_prologue.h"

namespace eclb::abi {

inline constexpr uint64_t kTableRegionMagic = 0x314C4254424C4345ULL;  // "ECLBTBL1" in memory
inline constexpr uint16_t kTableAbiMajor = 1;
inline constexpr uint16_t kTableAbiMinor = 1;  // 1: ForwardMode::kL7Proxy
inline constexpr uint32_t kTableCopies = 2;
inline constexpr uint32_t kNoBackend = 0xFFFFFFFFu;
inline constexpr uint32_t kVipIndexEmpty = 0;  // vip_index holds position + 1
inline constexpr uint32_t kMaxTableSize = 16777213;  // largest prime below 2^24
inline constexpr uint32_t kDefaultTableSize = 65537;
inline constexpr uint32_t kVipNameBytes = 64;
inline constexpr uint32_t kBackendNameBytes = 48;
inline constexpr uint32_t kReaderRoleBytes = 32;
inline constexpr uint64_t kCopyAlignment = 4096;

enum class AddressFamily : uint8_t { kNone = 0, kIpv4 = 4, kIpv6 = 6 };
enum class L4Protocol : uint8_t { kTcp = 6, kUdp = 17 };
// kL7Proxy VIPs are terminated by eclb-control (TLS offload, HTTP/WebSocket routing):
// they are listed in vips[] with their members and slots, for eclbctl and the L7 router,
// but left out of vip_index and address_index, so the dataplane never matches them.
enum class ForwardMode : uint8_t { kDsrIpip = 1, kDsrGue = 2, kFullNat = 3, kL7Proxy = 4 };
// kUp backends own table slots. kDrained ones own none but keep their established flows.
// kDown ones own none and their flows are re-picked.
enum class BackendState : uint8_t { kUp = 1, kDown = 2, kDrained = 3 };
enum class ReaderState : uint32_t { kFree = 0, kActive = 1, kEvicted = 2 };

struct RegionHeader {
  // magic kTableRegionMagic; generation: the last published, 0 = nothing yet; checksum:
  // with retired, writer_pid, publish_unix_ns and next_incarnation also taken as zero.
  RegionPrologue prologue;
  uint32_t copy_count;        // kTableCopies
  uint32_t max_vips;
  uint32_t max_backends;      // backend entries per copy (members of all VIPs)
  uint32_t max_readers;
  uint64_t max_table_slots;   // Maglev slots per copy, all VIPs together
  uint64_t copy_offset[kTableCopies];
  uint64_t copy_bytes;
  uint64_t reader_offset;
  uint32_t vip_index_capacity;  // power of two, at least 2 * max_vips
  uint32_t retired;           // atomic; 1 once a writer replaced this file: re-attach
  uint64_t writer_pid;        // atomic; informational, last writer to publish
  uint64_t publish_unix_ns;   // atomic; CLOCK_REALTIME of the last publish
  uint64_t next_incarnation;  // writer only; source of BackendEntry::incarnation
};

// One per registered reader (a dataplane worker lcore), one cache line each so readers
// never share a line. The owner writes seen_generation; the writer reads it.
struct alignas(64) ReaderSlot {
  uint64_t seen_generation;   // atomic; generation whose copy this reader may be using
  uint32_t pid;               // atomic; owning process, 0 = free (claimed by CAS)
  uint32_t state;             // atomic; ReaderState
  uint64_t attach_unix_ns;
  uint64_t evictions;         // atomic; times the writer gave up waiting on this slot
  char role[kReaderRoleBytes];  // e.g. "dp-worker-1", NUL-terminated
};

struct CopyHeader {
  uint64_t generation;        // atomic; generation this copy holds, 0 while being written
  uint64_t checksum;          // XXH3-64 of bytes [kCopyChecksumStart, used_bytes)
  uint64_t used_bytes;        // bytes of this copy covered by the checksum
  uint32_t vip_count;
  uint32_t backend_count;
  uint64_t slot_count;        // slots used by all VIPs
  uint64_t vips_offset;       // offsets from the start of this copy
  uint64_t backends_offset;
  uint64_t vip_index_offset;
  uint64_t backend_by_id_offset;
  uint64_t slots_offset;
  uint64_t built_unix_ns;     // when the writer built this content
  uint64_t flow_hash_seed;    // seed of flow_hash() (flow_hash.h) for every VIP of this copy
  uint64_t address_index_offset;  // open-addressing set of VIP addresses (any port/protocol)
  uint64_t reserved[3];
};

struct VipEntry {
  uint8_t address[16];        // network order; IPv4 in bytes 0-3, rest zero
  uint16_t port;              // host order
  AddressFamily family;
  L4Protocol protocol;
  ForwardMode mode;
  uint8_t reserved0;
  uint16_t reserved1;
  uint32_t table_size;        // M, prime
  uint32_t backend_first;     // position of this VIP's first member in the backends array
  uint32_t backend_count;     // members, whatever their state
  uint32_t up_count;          // members in state kUp (own slots)
  uint64_t slots_first;       // element index of slot 0 in the slots array
  uint32_t id;                // stable VIP id (counter index); survives republishing
  uint32_t reserved2;
  uint64_t reserved3;
  char name[kVipNameBytes];   // NUL-terminated
};

struct BackendEntry {
  uint8_t address[16];        // network order; IPv4 in bytes 0-3, rest zero
  uint16_t port;              // host order
  AddressFamily family;
  BackendState state;
  uint32_t weight;            // configured weight (0 = no slots)
  uint32_t id;                // stable member id < max_backends; survives republishing
  uint32_t incarnation;       // bumped when an id is given to a new (vip, address, port)
  uint32_t slot_count;        // slots this member owns in its VIP's table
  uint32_t vip_position;      // position of its VIP in the vips array
  uint64_t reserved;
  char name[kBackendNameBytes];  // NUL-terminated
};

// Slots hold the member's position relative to VipEntry::backend_first, or kNoBackend.
using SlotValue = uint32_t;

inline constexpr uint64_t kCopyChecksumStart = 16;  // after generation and checksum

static_assert(std::is_standard_layout_v<RegionHeader> && std::is_trivially_copyable_v<RegionHeader>);
static_assert(sizeof(RegionHeader) == 128);
static_assert(offsetof(RegionHeader, prologue) == 0);
static_assert(offsetof(RegionHeader, copy_count) == 40);
static_assert(offsetof(RegionHeader, max_vips) == 44);
static_assert(offsetof(RegionHeader, max_backends) == 48);
static_assert(offsetof(RegionHeader, max_readers) == 52);
static_assert(offsetof(RegionHeader, max_table_slots) == 56);
static_assert(offsetof(RegionHeader, copy_offset) == 64);
static_assert(offsetof(RegionHeader, copy_bytes) == 80);
static_assert(offsetof(RegionHeader, reader_offset) == 88);
static_assert(offsetof(RegionHeader, vip_index_capacity) == 96);
static_assert(offsetof(RegionHeader, retired) == 100);
static_assert(offsetof(RegionHeader, writer_pid) == 104);
static_assert(offsetof(RegionHeader, publish_unix_ns) == 112);
static_assert(offsetof(RegionHeader, next_incarnation) == 120);

static_assert(std::is_standard_layout_v<ReaderSlot> && std::is_trivially_copyable_v<ReaderSlot>);
static_assert(sizeof(ReaderSlot) == 64 && alignof(ReaderSlot) == 64);
static_assert(offsetof(ReaderSlot, seen_generation) == 0);
static_assert(offsetof(ReaderSlot, pid) == 8);
static_assert(offsetof(ReaderSlot, state) == 12);
static_assert(offsetof(ReaderSlot, attach_unix_ns) == 16);
static_assert(offsetof(ReaderSlot, evictions) == 24);
static_assert(offsetof(ReaderSlot, role) == 32);

static_assert(std::is_standard_layout_v<CopyHeader> && std::is_trivially_copyable_v<CopyHeader>);
static_assert(sizeof(CopyHeader) == 128);
static_assert(offsetof(CopyHeader, generation) == 0);
static_assert(offsetof(CopyHeader, checksum) == 8);
static_assert(offsetof(CopyHeader, used_bytes) == kCopyChecksumStart);
static_assert(offsetof(CopyHeader, vip_count) == 24);
static_assert(offsetof(CopyHeader, backend_count) == 28);
static_assert(offsetof(CopyHeader, slot_count) == 32);
static_assert(offsetof(CopyHeader, vips_offset) == 40);
static_assert(offsetof(CopyHeader, backends_offset) == 48);
static_assert(offsetof(CopyHeader, vip_index_offset) == 56);
static_assert(offsetof(CopyHeader, backend_by_id_offset) == 64);
static_assert(offsetof(CopyHeader, slots_offset) == 72);
static_assert(offsetof(CopyHeader, built_unix_ns) == 80);
static_assert(offsetof(CopyHeader, flow_hash_seed) == 88);
static_assert(offsetof(CopyHeader, address_index_offset) == 96);

static_assert(std::is_standard_layout_v<VipEntry> && std::is_trivially_copyable_v<VipEntry>);
static_assert(sizeof(VipEntry) == 128);
static_assert(offsetof(VipEntry, address) == 0);
static_assert(offsetof(VipEntry, port) == 16);
static_assert(offsetof(VipEntry, family) == 18);
static_assert(offsetof(VipEntry, protocol) == 19);
static_assert(offsetof(VipEntry, mode) == 20);
static_assert(offsetof(VipEntry, table_size) == 24);
static_assert(offsetof(VipEntry, backend_first) == 28);
static_assert(offsetof(VipEntry, backend_count) == 32);
static_assert(offsetof(VipEntry, up_count) == 36);
static_assert(offsetof(VipEntry, slots_first) == 40);
static_assert(offsetof(VipEntry, id) == 48);
static_assert(offsetof(VipEntry, name) == 64);

static_assert(std::is_standard_layout_v<BackendEntry> && std::is_trivially_copyable_v<BackendEntry>);
static_assert(sizeof(BackendEntry) == 96);
static_assert(offsetof(BackendEntry, address) == 0);
static_assert(offsetof(BackendEntry, port) == 16);
static_assert(offsetof(BackendEntry, family) == 18);
static_assert(offsetof(BackendEntry, state) == 19);
static_assert(offsetof(BackendEntry, weight) == 20);
static_assert(offsetof(BackendEntry, id) == 24);
static_assert(offsetof(BackendEntry, incarnation) == 28);
static_assert(offsetof(BackendEntry, slot_count) == 32);
static_assert(offsetof(BackendEntry, vip_position) == 36);
static_assert(offsetof(BackendEntry, name) == 48);

// Hash of a VIP key for vip_index (linear probing, capacity a power of two); the
// address_index uses port 0 and protocol 0. Writer and dataplane must agree, so it lives
// here. Not a security boundary: keys are config.
inline uint64_t vip_key_hash(const uint8_t (&address)[16], uint16_t port, L4Protocol protocol) noexcept {
  // The address as two little-endian words (every eclb host is x86-64 or another
  // little-endian machine; writer and reader always run on the same host).
  uint64_t lo, hi;
  __builtin_memcpy(&lo, address, 8);
  __builtin_memcpy(&hi, address + 8, 8);
  uint64_t h = lo * 0x9E3779B97F4A7C15ULL;
  h ^= (hi + (static_cast<uint64_t>(port) << 8) + static_cast<uint64_t>(protocol)) * 0xC2B2AE3D27D4EB4FULL;
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ULL;
  return h ^ (h >> 32);
}

// The table region's header checksum (RegionPrologue::checksum).
inline uint64_t table_header_checksum(const RegionHeader& header) noexcept {
  constexpr FieldSpan kAtomic[] = {{offsetof(RegionHeader, retired), 4},
                                   {offsetof(RegionHeader, writer_pid), 8},
                                   {offsetof(RegionHeader, publish_unix_ns), 8},
                                   {offsetof(RegionHeader, next_incarnation), 8}};
  return header_checksum(&header, sizeof header, kAtomic, std::size(kAtomic));
}

}  // namespace eclb::abi
