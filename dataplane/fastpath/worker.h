// Worker: the per-packet pipeline of one worker lcore. process_burst() takes a received
// burst through parse -> classify (VIP match) -> flow table -> Maglev pick -> rewrite
// -> buffered transmit, answering ICMP echo and sending "too big" where needed, handing
// ARP/ND to the control lcore and dropping everything else with a counted reason.
// Owner lcore only; noexcept, allocation-free, lock-free, no syscalls, no logging.
#pragma once

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/modulus.h"
#include "common/table_view.h"
#include "abi/stats_region.h"
#include "dataplane/fastpath/flow_table.h"
#include "dataplane/fastpath/lcore_counter.h"
#include "dataplane/fastpath/nat_port_hints.h"
#include "dataplane/fastpath/neighbour_table.h"
#include "dataplane/fastpath/packet_parser.h"

namespace eclb::dp {

inline constexpr uint16_t kBurstSize = 32;
inline constexpr uint32_t kMaxNatAddresses = 8;
inline constexpr uint32_t kMaxReta = 512;
inline constexpr uint32_t kMinSynFloodPerS = 1000;  // new-flow SYNs a second that are never a flood

inline constexpr uint16_t kNoExceptionPort = 0xFFFF;

// One port as a worker sees it: its own RX/TX queue pair, addresses and neighbours.
struct alignas(64) WorkerPort {
  // What every packet reads, in the first cache line (static_assert below).
  uint16_t port_id = 0;
  uint16_t queue_id = 0;
  uint16_t mtu = 1500;            // L3 MTU of the port
  // Where traffic the dataplane does not serve goes (a TAP port standing for the kernel),
  // on this worker's own queue; kNoExceptionPort: dropped and counted.
  uint16_t exception_port = kNoExceptionPort;
  uint16_t exception_queue = 0;
  uint8_t mac[6] = {};
  uint8_t local_ipv4[16] = {};    // outer source of IPv4 tunnels; IPv4 in bytes 0-3
  uint8_t local_ipv6[16] = {};
  uint8_t has_ipv4 = 0;
  uint8_t has_ipv6 = 0;
  const NeighbourTable* neighbours = nullptr;
  rte_ring* to_control = nullptr;  // ARP / ND for the control lcore (single producer)

  // Full NAT: the local addresses clients are translated to, and the local port range.
  uint8_t nat_ipv4[kMaxNatAddresses][16] = {};
  uint8_t nat_ipv6[kMaxNatAddresses][16] = {};
  uint8_t nat_ipv4_count = 0;
  uint8_t nat_ipv6_count = 0;
  uint16_t nat_port_first = 1024;
  uint16_t nat_port_last = 65535;
  // How the port spreads flows over the workers' queues (Toeplitz with abi::kRssKey),
  // so a fullnat mapping can choose a local port whose replies reach this worker.
  uint16_t queue_count = 1;
  uint16_t reta_size = 0;  // 0: queue = hash % queue_count
  uint16_t reta[kMaxReta] = {};
};
static_assert(offsetof(WorkerPort, neighbours) + sizeof(WorkerPort::neighbours) <= 64,
              "the fields every packet reads share one cache line");

// Where the lcore's counters live (its block of the stats region).
struct WorkerCounters {
  abi::LcoreStats* lcore = nullptr;
  abi::VipStats* vips = nullptr;          // [max_vips], by VipEntry::id
  abi::BackendStats* backends = nullptr;  // [max_backends], by BackendEntry::id
  uint32_t max_vips = 0;
  uint32_t max_backends = 0;
};

struct WorkerSettings {
  uint16_t gue_port = 6080;   // UDP destination port of dsr-gue
  uint16_t tcp_mss_clamp = 0;  // fullnat: clamp the MSS of SYNs towards backends (0: off)
  bool gue_ipv6_zero_checksum = false;  // dsr-gue over IPv6: UDP checksum 0 (RFC 6935/6936)
};

class Worker {
 public:
  // `flows`: the flow table; `nat`: the NAT table (reply direction of fullnat flows).
  Worker(const FlowTable& flows, const FlowTable& nat, const WorkerCounters& counters,
         const WorkerSettings& settings) noexcept;

  // Between bursts: the table generation to forward with (empty view: none yet).
  void set_table(const TableView& view, uint64_t generation) noexcept;
  // Between bursts: CLOCK_MONOTONIC seconds, for flow timeouts.
  void set_clock(uint32_t now_s) noexcept { now_s_ = now_s; }

  // Handles `count` (<= kBurstSize) packets received on `port` and transmits what is to
  // be sent on the port's queue. Every mbuf is consumed. Returns packets transmitted.
  uint16_t process_burst(WorkerPort& port, rte_mbuf** packets, uint16_t count) noexcept;

  // Transmits frames built elsewhere (the control lcore's ARP/ND) on the port's queue.
  uint16_t transmit(WorkerPort& port, rte_mbuf** packets, uint16_t count) noexcept;

  // Fullnat port hints (see nat_port_hints.h): `storage` is NatPortHints::kMaxAddresses *
  // kWordsPerAddress zeroed words owned by the caller; then the NAT addresses of every
  // port this worker serves, then one full sweep_nat() pass before the first burst, so an
  // adopted NAT table's held ports are known. Without hints, allocation only probes.
  void set_nat_hints(uint64_t* storage) noexcept;
  void add_nat_addresses(const WorkerPort& port) noexcept;
  // Between bursts (the worker loop's tick): frees expired NAT entries in the next
  // `buckets` buckets of the NAT table and rebuilds the port hints from the live ones.
  void sweep_nat(uint32_t buckets) noexcept;
  const NatPortHints& nat_hints() const noexcept { return nat_hints_; }

  FlowTable& flows() noexcept { return flows_; }
  FlowTable& nat() noexcept { return nat_; }
  const WorkerCounters& counters() const noexcept { return counters_; }

 private:
  enum class Action : uint8_t;
  struct Classified;

  struct Pick {
    const abi::BackendEntry* backend;
    abi::FlowEntry* entry;  // nullptr: forwarded without a flow entry
    bool martian;           // no backend because the new flow's source is one of ours
  };

  void classify(WorkerPort& port, rte_mbuf* m, Classified& out) noexcept;
  // `flow_hint`: the flow table's hint for the packet (FlowTable::prefetch_entry).
  void handle_vip_packet(WorkerPort& port, rte_mbuf* m, const PacketView& view, const abi::VipEntry& vip,
                         uint64_t hash, uint32_t flow_hint) noexcept;
  // Full NAT (worker_nat.cpp).
  void forward_nat(WorkerPort& port, rte_mbuf* m, const PacketView& view, const abi::VipEntry& vip,
                   const abi::BackendEntry& backend, abi::FlowEntry* entry) noexcept;
  // A backend's reply whose NAT entry `found` (nullptr: none) was looked up one pass
  // earlier, so the flow entry it points back at could be prefetched meanwhile.
  void handle_reply(WorkerPort& port, rte_mbuf* m, const PacketView& view, uint64_t hash,
                    abi::FlowEntry* found) noexcept;
  uint16_t allocate_nat_port(const WorkerPort& port, const PacketView& view, const abi::BackendEntry& backend,
                             abi::FlowEntry& entry) noexcept;
  // Maps `reply` (its local port set) to `entry` unless a live mapping holds it.
  bool take_nat_port(const WorkerPort& port, const PacketView& view, abi::FlowKey& reply, abi::FlowEntry& entry) noexcept;
  bool reply_reaches_us(const WorkerPort& port, const abi::FlowKey& reply) const noexcept;
  abi::FlowEntry* current_flow(const WorkerPort& port, const abi::NatReverseEntry& reverse,
                               const abi::FlowKey& reply) noexcept;
  [[gnu::cold]] void close_reply_direction(const WorkerPort& port, const PacketView& view,
                                           const abi::BackendEntry& backend, const abi::FlowEntry& entry) noexcept;
  static bool is_nat_address(const WorkerPort& port, const PacketView& view) noexcept;
  [[gnu::cold]] void handle_icmp(WorkerPort& port, rte_mbuf* m, const PacketView& view) noexcept;
  [[gnu::cold]] void handle_too_big(WorkerPort& port, rte_mbuf* m, const PacketView& view, uint16_t overhead) noexcept;
  [[gnu::cold]] void to_slow_path(WorkerPort& port, rte_mbuf* m) noexcept;
  // The flow's backend while it may keep it (the established path, inlined), else
  // pick_new_backend: Maglev's pick for a new flow or one whose backend left (`entry`: the
  // flow's entry if it has one).
  Pick pick_backend(const WorkerPort& port, const PacketView& view, const abi::VipEntry& vip, uint64_t hash,
                    uint32_t flow_hint) noexcept;
  Pick pick_new_backend(const WorkerPort& port, const PacketView& view, const abi::VipEntry& vip, uint64_t hash,
                        abi::FlowEntry* entry) noexcept;
  bool source_is_ours(const WorkerPort& port, const PacketView& view) const noexcept;
  // The table's VIP for a destination, remembering the last one found: traffic comes in
  // runs to the same VIP, and a hit costs three compares instead of the index probe.
  const abi::VipEntry* find_vip(const uint8_t (&address)[16], uint16_t port, abi::L4Protocol protocol) noexcept {
    uint64_t high, low;
    std::memcpy(&high, address, 8);
    std::memcpy(&low, address + 8, 8);
    const uint32_t port_protocol = uint32_t{port} << 8 | static_cast<uint8_t>(protocol);
    if (vip_memo_.vip != nullptr && high == vip_memo_.high && low == vip_memo_.low &&
        port_protocol == vip_memo_.port_protocol) [[likely]] {
      return vip_memo_.vip;
    }
    const abi::VipEntry* vip = table_.find_vip(address, port, protocol);
    if (vip != nullptr) vip_memo_ = {high, low, port_protocol, vip};
    return vip;
  }
  // The Maglev slot of a new flow, hash mod the VIP's table size, by the reciprocal of
  // the last size seen (VIPs share one size unless configured otherwise): a 64-bit
  // division per new flow was the SYN path's single slowest instruction.
  uint32_t slot_of(const abi::VipEntry& vip, uint64_t hash) noexcept {
    if (vip.table_size != slot_modulus_.divisor()) [[unlikely]] slot_modulus_ = Modulus(vip.table_size);
    return slot_modulus_.of(hash);
  }
  // Counts a SYN that opens a new flow; true while they come faster than half the flow
  // table could hold for the SYN timeout (in this second or the one before): a flood.
  bool syn_flood(uint8_t tcp_flags) noexcept;
  void encapsulate_to(WorkerPort& port, rte_mbuf* m, const PacketView& view, const abi::VipEntry& vip,
                      const abi::BackendEntry& backend, uint64_t hash) noexcept;
  // encapsulate_to for one (family, mode): one forward path per pair, its sizes and
  // addresses constants, picked by one switch (worker.cpp).
  template <bool kIpv6, bool kGue>
  void tunnel_to(WorkerPort& port, rte_mbuf* m, const PacketView& view, const abi::VipEntry& vip,
                 const abi::BackendEntry& backend, uint64_t hash) noexcept;
  void drop(rte_mbuf* m, abi::DropReason reason) noexcept;
  // Traffic this dataplane does not serve: to the port's exception port (the kernel) when
  // it has one, else dropped for `reason`.
  void not_ours(const WorkerPort& port, rte_mbuf* m, abi::DropReason reason) noexcept;
  void flush_exception(const WorkerPort& port) noexcept;
  // Per VIP and per backend packets and bytes of a forwarded packet (inline: every
  // forwarded packet comes here, from both forward paths).
  void count_forwarded(const abi::VipEntry& vip, const abi::BackendEntry& backend, uint32_t bytes) noexcept {
    if (vip.id < counters_.max_vips) [[likely]] {
      add(counters_.vips[vip.id].packets, 1);
      add(counters_.vips[vip.id].bytes, bytes);
    }
    if (backend.id < counters_.max_backends) [[likely]] {
      add(counters_.backends[backend.id].packets, 1);
      add(counters_.backends[backend.id].bytes, bytes);
    }
  }
  void queue_tx(rte_mbuf* m) noexcept { tx_[tx_count_++] = m; }
  uint16_t flush_tx(WorkerPort& port) noexcept;

  FlowTable flows_;
  FlowTable nat_;
  uint32_t nat_cursor_ = 0;  // next local port to probe when every port is held, relative to the range
  NatPortHints nat_hints_;
  uint32_t nat_sweep_bucket_ = 0;  // next NAT bucket sweep_nat() visits
  bool nat_hints_clear_ = false;   // the NAT table was empty at the last sweep and the hints cleared
  bool nat_mapped_in_burst_ = false;  // allocate_nat_port made a mapping in this burst
  WorkerCounters counters_;
  WorkerSettings settings_;
  TableView table_;
  uint64_t generation_ = 0;
  uint64_t seed_ = 0;
  uint32_t now_s_ = 0;
  uint32_t syn_window_s_ = 0;        // the second syn_misses_ counts
  uint32_t syn_misses_ = 0;          // new-flow SYNs in it
  uint32_t syn_misses_before_ = 0;   // in the second before
  uint32_t syn_flood_per_s_ = 0;     // more new-flow SYNs a second than this: a flood
  Modulus slot_modulus_{1};
  struct VipMemo {
    uint64_t high = 0, low = 0;  // the address's two halves
    uint32_t port_protocol = 0;
    const abi::VipEntry* vip = nullptr;  // of the current table; cleared by set_table
  } vip_memo_;
  uint16_t ip_id_ = 0;
  uint16_t tx_count_ = 0;
  rte_mbuf* tx_[2 * kBurstSize];
  uint16_t exception_count_ = 0;
  rte_mbuf* exception_[kBurstSize];  // one burst's worth: flushed at the end of each
};

}  // namespace eclb::dp
