// The per-packet pipeline (see worker.h). Three passes over a burst: the first parses,
// matches VIPs and hashes; the second reads each packet's bucket and prefetches the
// entry line its signature matches (the bucket loads are independent, so they overlap
// out of order); the third does the flow table, the Maglev pick and the rewrite while
// the entry lines arrive. The first pass prefetches the bucket line of a SYN alone (a
// new flow, whose insert reads the bucket): for every packet it made established flows
// slower on this VM (worker_pipeline_bench, 1M flows: 64-65 -> 79-82 ns), for SYNs only
// the SYN flood case went 66-70 -> 58-67 ns and the established ones did not move.
#include "dataplane/fastpath/worker.h"

#include <rte_ethdev.h>
#include <rte_ip.h>

#include <algorithm>
#include <cstring>

#include "abi/flow_hash.h"
#include "dataplane/fastpath/byte_order.h"
#include "dataplane/fastpath/checksum.h"
#include "dataplane/fastpath/encap.h"
#include "dataplane/fastpath/icmp.h"

namespace eclb::dp {
namespace {

using abi::DropReason;

inline bool same_address(const uint8_t* a, const uint8_t* b, abi::AddressFamily family) noexcept {
  return std::memcmp(a, b, family == abi::AddressFamily::kIpv6 ? 16 : 4) == 0;
}

inline bool is_local_address(const WorkerPort& port, const PacketView& view) noexcept {
  if (view.key.family == abi::AddressFamily::kIpv4) {
    return port.has_ipv4 && same_address(view.key.dst, port.local_ipv4, view.key.family);
  }
  return port.has_ipv6 && same_address(view.key.dst, port.local_ipv6, view.key.family);
}

inline abi::L4Protocol l4_of(uint8_t protocol) noexcept { return static_cast<abi::L4Protocol>(protocol); }

// Unicast to a MAC that is not the port's: on a shared segment (two balancers behind one
// switch, a flooded frame) it was meant for someone else, and forwarding it would
// duplicate it. Broadcast and multicast (ARP, ND) are looked at.
inline bool foreign_unicast(const uint8_t* frame, const uint8_t* mac) noexcept {
  uint32_t a, b;
  uint16_t c, d;
  std::memcpy(&a, frame, 4);
  std::memcpy(&b, mac, 4);
  std::memcpy(&c, frame + 4, 2);
  std::memcpy(&d, mac + 4, 2);
  return (frame[0] & 1) == 0 && ((a ^ b) | (c ^ d)) != 0;
}

// The IPv4 header checksum: the port's verdict when it checked, else computed (a valid
// header sums to 0xFFFF). The parser has already checked the header length.
inline bool ipv4_checksum_ok(const rte_mbuf* m, const uint8_t* ip) noexcept {
  const uint64_t verdict = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
  if (verdict == RTE_MBUF_F_RX_IP_CKSUM_GOOD) [[likely]] return true;
  if (verdict == RTE_MBUF_F_RX_IP_CKSUM_BAD) return false;
  const uint32_t words = ip[0] & 0x0Fu;
  return (words == 5 ? ones_sum32(ip, 5) : ones_sum32(ip, words)) == 0xFFFF;  // 5: unrolled, no options
}

// Sources no real client has (RFC 6890): IPv4 0/8, 127/8, multicast and 240/4 (with the
// limited broadcast); IPv6 unspecified, loopback and multicast. Answers to them would go
// nowhere or everywhere.
inline bool martian_source(const abi::FlowKey& key) noexcept {
  const uint8_t first = key.src[0];
  if (key.family == abi::AddressFamily::kIpv4) return first == 0 || first == 127 || first >= 224;
  if (first == 0xFF) return true;
  uint64_t high, low;
  std::memcpy(&high, key.src, 8);
  std::memcpy(&low, key.src + 8, 8);
  return high == 0 && (low == 0 || low == rte_cpu_to_be_64(1));
}

}  // namespace

// What the second pass does with a packet; the passes keep the burst's order on the
// wire (TX is only queued in the second pass).
enum class Worker::Action : uint8_t { kDone, kForward, kIcmp, kReply };

struct Worker::Classified {
  PacketView view;
  const abi::VipEntry* vip;
  uint64_t hash;
  abi::FlowEntry* nat_found;  // kReply: the NAT entry, looked up before the second pass
  uint32_t flow_hint;         // kForward: the flow table way prefetch_entry matched (FlowTable::find)
  Action action;
};

Worker::Worker(const FlowTable& flows, const FlowTable& nat, const WorkerCounters& counters,
               const WorkerSettings& settings) noexcept
    : flows_(flows), nat_(nat), counters_(counters), settings_(settings) {
  // Past this rate, half-open flows alone would fill half the table before their SYN
  // timeout ends them (2M entries, 10 s: 104,857 a second); a small table still takes
  // a thousand new connections a second before it calls that a flood.
  const uint64_t capacity = uint64_t{flows_.bucket_count()} * abi::kFlowWays;
  syn_flood_per_s_ = static_cast<uint32_t>(
      std::max<uint64_t>(kMinSynFloodPerS, capacity / (2 * std::max<uint32_t>(1, flows_.timeouts().syn_s))));
}

bool Worker::syn_flood(uint8_t tcp_flags) noexcept {
  if ((tcp_flags & (kTcpSyn | kTcpAck)) != kTcpSyn) return false;
  if (now_s_ != syn_window_s_) {
    syn_misses_before_ = now_s_ == syn_window_s_ + 1 ? syn_misses_ : 0;
    syn_misses_ = 0;
    syn_window_s_ = now_s_;
  }
  ++syn_misses_;
  return syn_misses_ > syn_flood_per_s_ || syn_misses_before_ > syn_flood_per_s_;
}

void Worker::set_table(const TableView& view, uint64_t generation) noexcept {
  table_ = view;
  vip_memo_ = {};
  generation_ = generation;
  seed_ = view.empty() ? 0 : view.flow_hash_seed();
  __atomic_store_n(&counters_.lcore->table_generation, generation, __ATOMIC_RELAXED);
}

void Worker::drop(rte_mbuf* m, DropReason reason) noexcept {
  add(counters_.lcore->drops[static_cast<uint32_t>(reason)], 1);
  rte_pktmbuf_free(m);
}

void Worker::not_ours(const WorkerPort& port, rte_mbuf* m, DropReason reason) noexcept {
  if (port.exception_port == kNoExceptionPort) {
    drop(m, reason);
    return;
  }
  exception_[exception_count_++] = m;  // at most one per received packet: fits one burst
}

void Worker::flush_exception(const WorkerPort& port) noexcept {
  if (exception_count_ == 0) return;
  const uint16_t sent = rte_eth_tx_burst(port.exception_port, port.exception_queue, exception_, exception_count_);
  add(counters_.lcore->exception_packets, sent);
  for (uint16_t i = sent; i < exception_count_; ++i) drop(exception_[i], DropReason::kExceptionFull);
  exception_count_ = 0;
}

uint16_t Worker::process_burst(WorkerPort& port, rte_mbuf** packets, uint16_t count) noexcept {
  Classified work[kBurstSize];
  uint64_t rx_bytes = 0;
  for (uint16_t i = 0; i < count; ++i) {
    // One packet ahead: its header line arrives while this one is classified.
    if (i + 1 < count) rte_prefetch0(rte_pktmbuf_mtod(packets[i + 1], void*));
    rx_bytes += rte_pktmbuf_pkt_len(packets[i]);
    classify(port, packets[i], work[i]);
  }
  add(counters_.lcore->rx_packets, count);
  add(counters_.lcore->rx_bytes, rx_bytes);
  // Each packet's bucket line (read here; the loads of a burst overlap), then the
  // matching entry line prefetched a pass ahead of its use (fastpath_prefetches_survive
  // checks that the compiler kept these prefetches).
  bool replies = false;
  nat_mapped_in_burst_ = false;
  for (uint16_t i = 0; i < count; ++i) {
    if (work[i].action == Action::kForward) work[i].flow_hint = flows_.prefetch_entry(work[i].hash);
    if (work[i].action == Action::kReply) {
      work[i].flow_hint = nat_.prefetch_entry(work[i].hash);
      replies = true;
    }
  }
  // A fullnat reply needs a third line: the flow entry its NAT entry points back at, known
  // only once the NAT entry is read. Looking the NAT entries up here, before any packet is
  // handled, lets those flow lines arrive in parallel instead of one miss per reply.
  // A forward packet of this burst may still make or displace a NAT entry; handle_reply
  // checks that the flow points back at the reply's own tuple and, if a mapping was made
  // meanwhile, looks again.
  if (replies) {
    for (uint16_t i = 0; i < count; ++i) {
      if (work[i].action != Action::kReply) continue;
      abi::FlowEntry* found = nat_.find(work[i].view.key, work[i].hash, work[i].view.tcp_flags, now_s_, work[i].flow_hint);
      work[i].nat_found = found;
      if (found != nullptr) flows_.prefetch_index(reinterpret_cast<const abi::NatReverseEntry*>(found)->forward_index);
    }
  }
  for (uint16_t i = 0; i < count; ++i) {
    switch (work[i].action) {
      case Action::kDone: break;
      case Action::kForward:
        handle_vip_packet(port, packets[i], work[i].view, *work[i].vip, work[i].hash, work[i].flow_hint);
        break;
      case Action::kIcmp: handle_icmp(port, packets[i], work[i].view); break;
      case Action::kReply: handle_reply(port, packets[i], work[i].view, work[i].hash, work[i].nat_found); break;
    }
  }
  flush_exception(port);
  return flush_tx(port);
}

// classify and the DSR forward path (handle_vip_packet, pick_backend's established case,
// encapsulate_to, tunnel_to) are inlined into process_burst: as calls, their prologues,
// epilogues and argument spills were about 80 of 700 instructions a packet (callgrind,
// worker_pipeline_bench Established/1024). New flows and drops stay out of line.
[[gnu::always_inline]] inline void Worker::classify(WorkerPort& port, rte_mbuf* m, Classified& out) noexcept {
  out.action = Action::kDone;
  if (m->nb_segs != 1) [[unlikely]] {
    drop(m, DropReason::kMultiSegment);
    return;
  }
  PacketView& view = out.view;
  view = PacketView{};
  const uint8_t* data = rte_pktmbuf_mtod(m, const uint8_t*);
  if (rte_pktmbuf_data_len(m) >= 6 && foreign_unicast(data, port.mac)) [[unlikely]] {
    drop(m, DropReason::kForeignMac);
    return;
  }
  const ParseResult parsed = parse_packet(data, rte_pktmbuf_data_len(m), view);
  switch (parsed.kind) {
    case PacketKind::kDrop:
      // Ethertypes we do not parse (LLDP, QinQ...) are the kernel's business; malformed
      // IP stays a counted drop.
      if (parsed.reason == DropReason::kBadL2) not_ours(port, m, parsed.reason);
      else drop(m, parsed.reason);
      return;
    case PacketKind::kArp:
      to_slow_path(port, m);
      return;
    case PacketKind::kIpv4:
      if (!ipv4_checksum_ok(m, data + view.l3_offset)) [[unlikely]] {
        drop(m, DropReason::kBadIpChecksum);
        return;
      }
      break;
    case PacketKind::kIpv6:
      break;
  }

  if (view.l4_protocol == kProtoIcmp || view.l4_protocol == kProtoIcmpv6) [[unlikely]] {
    out.action = Action::kIcmp;
    return;
  }
  if (table_.empty()) [[unlikely]] {
    // Before the first table, host traffic still reaches the kernel (if there is a way).
    if (port.exception_port != kNoExceptionPort && !is_local_address(port, view) && !is_nat_address(port, view)) {
      not_ours(port, m, DropReason::kNoTable);
    } else {
      drop(m, DropReason::kNoTable);
    }
    return;
  }
  if (view.is_fragment) [[unlikely]] {
    // Fragments of VIP traffic are not forwarded: non-first fragments carry no ports,
    // so they cannot be matched to a flow (README: Fragments).
    if (table_.find_vip_address(view.key.dst) != nullptr) {
      add(counters_.lcore->fragments, 1);
      drop(m, DropReason::kFragment);
    } else {
      not_ours(port, m, DropReason::kNotForUs);
    }
    return;
  }
  const abi::VipEntry* vip = nullptr;
  if (view.l4_protocol == kProtoTcp || view.l4_protocol == kProtoUdp) [[likely]] {
    vip = find_vip(view.key.dst, from_be16(view.key.dst_port_be), l4_of(view.l4_protocol));
  }
  if (vip == nullptr) {
    if ((view.l4_protocol == kProtoTcp || view.l4_protocol == kProtoUdp) && is_nat_address(port, view)) {
      // A backend's reply to a fullnat flow.
      if (martian_source(view.key)) [[unlikely]] {
        drop(m, DropReason::kMartianSource);
        return;
      }
      out.action = Action::kReply;
      out.hash = abi::flow_hash(view.key, seed_);
      return;
    }
    not_ours(port, m, table_.find_vip_address(view.key.dst) != nullptr ? DropReason::kNoVipForPort : DropReason::kNotForUs);
    return;
  }
  // Only what is ours is judged by its source: the kernel's traffic (an IGMP report from
  // 0.0.0.0, say) stays the kernel's.
  if (martian_source(view.key)) [[unlikely]] {
    drop(m, DropReason::kMartianSource);
    return;
  }
  out.action = Action::kForward;
  out.vip = vip;
  out.hash = abi::flow_hash(view.key, seed_);
  if ((view.tcp_flags & (kTcpSyn | kTcpAck)) == kTcpSyn) flows_.prefetch(out.hash);  // see the top of this file
}

// A new flow from one of our own addresses (a VIP, the port's, a fullnat one): spoofed,
// or looped back; its answers would come back to us. Checked on flow misses only.
bool Worker::source_is_ours(const WorkerPort& port, const PacketView& view) const noexcept {
  if (table_.find_vip_address(view.key.src) != nullptr) return true;
  const bool ipv6 = view.key.family == abi::AddressFamily::kIpv6;
  if ((ipv6 ? port.has_ipv6 : port.has_ipv4) && same_address(view.key.src, ipv6 ? port.local_ipv6 : port.local_ipv4, view.key.family)) {
    return true;
  }
  const uint8_t count = ipv6 ? port.nat_ipv6_count : port.nat_ipv4_count;
  for (uint8_t i = 0; i < count; ++i) {
    if (same_address(view.key.src, ipv6 ? port.nat_ipv6[i] : port.nat_ipv4[i], view.key.family)) return true;
  }
  return false;
}

inline Worker::Pick Worker::pick_backend(const WorkerPort& port, const PacketView& view, const abi::VipEntry& vip,
                                         uint64_t hash, uint32_t flow_hint) noexcept {
  abi::FlowEntry* entry = flows_.find(view.key, hash, view.tcp_flags, now_s_, flow_hint);
  if (entry != nullptr && entry->vip_id == vip.id) {
    const abi::BackendEntry* backend = table_.backend_with_id(entry->backend_id);
    // The flow keeps its backend while that member is still in the pool and not down
    // (a drained member keeps its flows).
    const auto vip_position = static_cast<uint32_t>(&vip - table_.vips().data());
    if (backend != nullptr && backend->incarnation == entry->backend_incarnation &&
        backend->vip_position == vip_position && backend->state != abi::BackendState::kDown) [[likely]] {
      return {backend, entry, false};
    }
  }
  return pick_new_backend(port, view, vip, hash, entry);
}

Worker::Pick Worker::pick_new_backend(const WorkerPort& port, const PacketView& view, const abi::VipEntry& vip,
                                      uint64_t hash, abi::FlowEntry* entry) noexcept {
  if (entry == nullptr && source_is_ours(port, view)) [[unlikely]] return {nullptr, nullptr, true};
  const abi::SlotValue slot = table_.slots_of(vip)[slot_of(vip, hash)];
  // kNoBackend, or (in a corrupt table) anything out of range: no backend.
  if (slot >= vip.backend_count) [[unlikely]] {
    if (vip.id < counters_.max_vips) add(counters_.vips[vip.id].no_backend_drops, 1);
    return {nullptr, entry, false};
  }
  const abi::BackendEntry& backend = table_.backends_of(vip)[slot];
  if (entry != nullptr) {
    add(counters_.lcore->flow_repicks, 1);  // its backend left the pool or went down
  } else if (syn_flood(view.tcp_flags) && vip.mode != abi::ForwardMode::kFullNat) {
    // Under a SYN flood a DSR SYN is forwarded by the table alone, as Katran does: its
    // retransmissions go the same way while the table stays, and the flow gets its entry
    // from its first packet past the handshake. The flood then costs no table write and
    // displaces nothing (fullnat needs the entry for its local port).
    add(counters_.lcore->syn_unrecorded, 1);
    return {&backend, nullptr, false};
  } else {
    const InsertResult inserted = flows_.insert(view.key, hash, FlowTable::initial_state(view.l4_protocol, view.tcp_flags), now_s_);
    entry = inserted.entry;
    switch (inserted.outcome) {
      case InsertOutcome::kFree: break;
      case InsertOutcome::kEvictedUnprotected: add(counters_.lcore->flow_evictions_other, 1); break;
      case InsertOutcome::kEvictedProtected: add(counters_.lcore->flow_evictions_established, 1); break;
      case InsertOutcome::kRefused: add(counters_.lcore->flow_guard_skips, 1); break;
    }
    if (entry != nullptr) add(counters_.lcore->flow_inserts, 1);
    if (vip.id < counters_.max_vips) add(counters_.vips[vip.id].new_flows, 1);
  }
  if (entry != nullptr) {
    entry->vip_id = vip.id;
    entry->backend_id = backend.id;
    entry->backend_incarnation = backend.incarnation;
    entry->nat_port_be = 0;  // a (re)picked fullnat flow needs a mapping towards its new backend
  }
  if (backend.id < counters_.max_backends) add(counters_.backends[backend.id].new_flows, 1);
  return {&backend, entry, false};
}

[[gnu::always_inline]] inline void Worker::handle_vip_packet(WorkerPort& port, rte_mbuf* m, const PacketView& view,
                                                             const abi::VipEntry& vip, uint64_t hash,
                                                             uint32_t flow_hint) noexcept {
  const Pick pick = pick_backend(port, view, vip, hash, flow_hint);
  if (pick.backend == nullptr) [[unlikely]] {
    drop(m, pick.martian ? DropReason::kMartianSource : DropReason::kNoBackend);
    return;
  }
  if (vip.mode == abi::ForwardMode::kFullNat) {
    forward_nat(port, m, view, vip, *pick.backend, pick.entry);
    return;
  }
  encapsulate_to(port, m, view, vip, *pick.backend, hash);
}

[[gnu::always_inline]] inline void Worker::encapsulate_to(WorkerPort& port, rte_mbuf* m, const PacketView& view,
                                                          const abi::VipEntry& vip, const abi::BackendEntry& backend,
                                                          uint64_t hash) noexcept {
  const bool ipv6 = view.key.family == abi::AddressFamily::kIpv6;
  switch (vip.mode) {
    case abi::ForwardMode::kDsrIpip:
      return ipv6 ? tunnel_to<true, false>(port, m, view, vip, backend, hash)
                  : tunnel_to<false, false>(port, m, view, vip, backend, hash);
    case abi::ForwardMode::kDsrGue:
      return ipv6 ? tunnel_to<true, true>(port, m, view, vip, backend, hash)
                  : tunnel_to<false, true>(port, m, view, vip, backend, hash);
    default:
      drop(m, DropReason::kUnsupportedMode);
  }
}

template <bool kIpv6, bool kGue>
[[gnu::always_inline]] inline void Worker::tunnel_to(WorkerPort& port, rte_mbuf* m, const PacketView& view,
                                                     const abi::VipEntry& vip, const abi::BackendEntry& backend,
                                                     uint64_t hash) noexcept {
  constexpr uint16_t kOverhead = (kIpv6 ? 40 : 20) + (kGue ? 8 : 0);
  if (view.l3_length + kOverhead > port.mtu) [[unlikely]] {
    handle_too_big(port, m, view, kOverhead);
    return;
  }
  if (!(kIpv6 ? port.has_ipv6 : port.has_ipv4)) [[unlikely]] {
    drop(m, DropReason::kNoLocalAddress);
    return;
  }
  const uint64_t mac = port.neighbours->lookup(backend.id);
  if (mac == 0) [[unlikely]] {
    drop(m, DropReason::kNeighbourUnresolved);
    return;
  }
  // Outer IPv4 identification: a per-lcore counter (IPv6 has none).
  const TunnelParams params{kIpv6 ? port.local_ipv6 : port.local_ipv4, backend.address, hash, settings_.gue_port,
                            kIpv6 ? uint16_t{0} : ip_id_++, settings_.gue_ipv6_zero_checksum};
  if (!encapsulate_as<kIpv6, kGue>(m, view, params)) [[unlikely]] {
    drop(m, DropReason::kNoMbuf);
    return;
  }
  uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
  NeighbourTable::unpack(mac, frame);
  std::memcpy(frame + 6, port.mac, 6);
  count_forwarded(vip, backend, view.l3_length);
  queue_tx(m);
}

void Worker::handle_too_big(WorkerPort& port, rte_mbuf* m, const PacketView& view, uint16_t overhead) noexcept {
  // IPv4 without DF would have to be fragmented: not done, the packet is a drop. Otherwise
  // it becomes the ICMP error (counted icmp_too_big_sent), not a drop as well.
  if (view.key.family == abi::AddressFamily::kIpv4 && !view.dont_fragment) {
    drop(m, DropReason::kTooBig);
    return;
  }
  make_too_big_reply(m, view, static_cast<uint16_t>(port.mtu - overhead), port.mac);
  add(counters_.lcore->icmp_too_big_sent, 1);
  queue_tx(m);
}

void Worker::handle_icmp(WorkerPort& port, rte_mbuf* m, const PacketView& view) noexcept {
  const bool ipv6 = view.key.family == abi::AddressFamily::kIpv6;
  const uint8_t type = view.icmp_type;
  if (ipv6 && type >= kIcmpv6RouterSolicit && type <= kIcmpv6Redirect) {
    to_slow_path(port, m);  // neighbour discovery
    return;
  }
  if (port.exception_port != kNoExceptionPort && !is_local_address(port, view) && !is_nat_address(port, view) &&
      (table_.empty() || table_.find_vip_address(view.key.dst) == nullptr)) {
    not_ours(port, m, DropReason::kNotForUs);  // the host's ICMP
    return;
  }
  if (view.is_fragment) {
    drop(m, DropReason::kIcmpUnhandled);
    return;
  }
  if (type == (ipv6 ? kIcmpv6EchoRequest : kIcmpEchoRequest)) {
    const bool ours = is_local_address(port, view) || (!table_.empty() && table_.find_vip_address(view.key.dst));
    if (!ours) {
      not_ours(port, m, DropReason::kNotForUs);
    } else if (martian_source(view.key) || (!table_.empty() && source_is_ours(port, view))) {
      drop(m, DropReason::kMartianSource);  // the reply would come straight back to us
    } else if (make_echo_reply(m, view, port.mac)) {
      add(counters_.lcore->icmp_echo_replies, 1);
      queue_tx(m);
    } else {
      drop(m, DropReason::kIcmpUnhandled);
    }
    return;
  }
  const bool too_big = ipv6 ? type == kIcmpv6TooBig : (type == kIcmpUnreachable && view.icmp_code == kIcmpCodeFragNeeded);
  if (!too_big) {
    drop(m, DropReason::kIcmpUnhandled);
    return;
  }
  if (table_.empty()) {
    drop(m, DropReason::kNoTable);
    return;
  }
  // A router could not pass a packet a backend sent from a VIP to a client: steer the
  // error to the backend that owns the flow so its TCP lowers the MSS.
  abi::FlowKey key;
  const abi::VipEntry* vip = nullptr;
  if (quoted_flow_key(rte_pktmbuf_mtod(m, const uint8_t*), view, key)) {
    vip = table_.find_vip(key.dst, from_be16(key.dst_port_be), l4_of(key.protocol));
  }
  if (vip == nullptr) {
    drop(m, DropReason::kBadIcmpQuote);
    return;
  }
  const uint64_t hash = abi::flow_hash(key, seed_);
  const abi::FlowEntry* entry = flows_.peek(key, hash, now_s_);
  const abi::BackendEntry* backend = nullptr;
  if (entry != nullptr && entry->vip_id == vip->id) {
    backend = table_.backend_with_id(entry->backend_id);
    if (backend != nullptr && backend->incarnation != entry->backend_incarnation) backend = nullptr;
  }
  if (backend == nullptr) {
    const abi::SlotValue slot = table_.slots_of(*vip)[hash % vip->table_size];
    if (slot >= vip->backend_count) {
      drop(m, DropReason::kNoBackend);
      return;
    }
    backend = &table_.backends_of(*vip)[slot];
  }
  if (vip->mode == abi::ForwardMode::kFullNat) {
    // The backend never sees the client's path: translating the quoted packet is not done.
    drop(m, DropReason::kIcmpUnhandled);
    return;
  }
  add(counters_.lcore->icmp_errors_forwarded, 1);
  encapsulate_to(port, m, view, *vip, *backend, hash);
}

void Worker::to_slow_path(WorkerPort& port, rte_mbuf* m) noexcept {
  if (port.to_control == nullptr || rte_ring_sp_enqueue(port.to_control, m) != 0) {
    drop(m, DropReason::kSlowPathFull);
    return;
  }
  add(counters_.lcore->slow_path_packets, 1);
}

uint16_t Worker::transmit(WorkerPort& port, rte_mbuf** packets, uint16_t count) noexcept {
  for (uint16_t i = 0; i < count; ++i) {
    queue_tx(packets[i]);
    if (tx_count_ == 2 * kBurstSize) flush_tx(port);
  }
  return flush_tx(port);
}

uint16_t Worker::flush_tx(WorkerPort& port) noexcept {
  if (tx_count_ == 0) return 0;
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < tx_count_; ++i) bytes += rte_pktmbuf_pkt_len(tx_[i]);
  const uint16_t sent = rte_eth_tx_burst(port.port_id, port.queue_id, tx_, tx_count_);
  for (uint16_t i = sent; i < tx_count_; ++i) {
    bytes -= rte_pktmbuf_pkt_len(tx_[i]);
    drop(tx_[i], DropReason::kTxFull);
  }
  add(counters_.lcore->tx_packets, sent);
  add(counters_.lcore->tx_bytes, bytes);
  tx_count_ = 0;
  return sent;
}

}  // namespace eclb::dp
