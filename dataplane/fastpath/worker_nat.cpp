// Full NAT on the per-packet path: client -> VIP packets leave from a local address and
// port towards the backend; the backend's replies come back to that address and port and
// are translated back to VIP -> client. The mapping is one entry in each direction: the
// flow entry (client -> VIP) records the local port, the NAT table entry (backend ->
// local) points back at the flow entry. Both live in the flow region, so a restarted
// dataplane keeps every mapping; a local port is free exactly when no live NAT entry
// holds it, so there is no separate allocator state to lose.
#include <rte_ethdev.h>
#include <rte_thash.h>

#include <algorithm>
#include <cstring>

#include "abi/rss.h"
#include "dataplane/fastpath/byte_order.h"
#include "dataplane/fastpath/nat_rewrite.h"
#include "dataplane/fastpath/worker.h"

namespace eclb::dp {
namespace {

using abi::DropReason;

// Drops Ethernet padding: the frame ends where the IP packet does. The worker has
// dropped chained mbufs on receipt, so the one segment's length is set outright.
inline void trim_to_packet(rte_mbuf* m, const PacketView& view) noexcept {
  const auto length = static_cast<uint16_t>(view.l3_offset + view.l3_length);
  m->data_len = length;
  m->pkt_len = length;
}

const uint8_t* nat_address(const WorkerPort& port, abi::AddressFamily family, uint8_t index) noexcept {
  return family == abi::AddressFamily::kIpv6 ? port.nat_ipv6[index] : port.nat_ipv4[index];
}

// The Toeplitz hash the port (or a sender emulating it) computes over a TCP/UDP tuple.
uint32_t toeplitz(const abi::FlowKey& key) noexcept {
  if (key.family == abi::AddressFamily::kIpv4) {
    rte_ipv4_tuple tuple{};
    tuple.src_addr = load_be32(key.src);
    tuple.dst_addr = load_be32(key.dst);
    tuple.sport = from_be16(key.src_port_be);
    tuple.dport = from_be16(key.dst_port_be);
    return rte_softrss(reinterpret_cast<uint32_t*>(&tuple), RTE_THASH_V4_L4_LEN, abi::kRssKey);
  }
  rte_ipv6_tuple tuple{};
  for (int i = 0; i < 4; ++i) {
    const uint32_t src = load_be32(key.src + 4 * i), dst = load_be32(key.dst + 4 * i);
    std::memcpy(tuple.src_addr + 4 * i, &src, 4);
    std::memcpy(tuple.dst_addr + 4 * i, &dst, 4);
  }
  tuple.sport = from_be16(key.src_port_be);
  tuple.dport = from_be16(key.dst_port_be);
  return rte_softrss(reinterpret_cast<uint32_t*>(&tuple), RTE_THASH_V6_L4_LEN, abi::kRssKey);
}

}  // namespace

bool Worker::is_nat_address(const WorkerPort& port, const PacketView& view) noexcept {
  if (view.key.family == abi::AddressFamily::kIpv4) {
    for (uint8_t i = 0; i < port.nat_ipv4_count; ++i) {
      if (std::memcmp(port.nat_ipv4[i], view.key.dst, 4) == 0) return true;
    }
    return false;
  }
  for (uint8_t i = 0; i < port.nat_ipv6_count; ++i) {
    if (std::memcmp(port.nat_ipv6[i], view.key.dst, 16) == 0) return true;
  }
  return false;
}

abi::FlowEntry* Worker::current_flow(const WorkerPort& port, const abi::NatReverseEntry& reverse,
                                     const abi::FlowKey& reply) noexcept {
  // The flow entry must still be the one this mapping was made for: same local port and
  // the backend the reply key names (a re-picked or displaced flow is not ours any more).
  abi::FlowEntry* entry = flows_.live_entry(reverse.forward_index, now_s_);
  if (entry == nullptr || entry->family != reply.family || entry->nat_port_be != reply.dst_port_be) return nullptr;
  const uint8_t count = reply.family == abi::AddressFamily::kIpv6 ? port.nat_ipv6_count : port.nat_ipv4_count;
  if (entry->nat_address >= count ||
      std::memcmp(nat_address(port, reply.family, entry->nat_address), reply.dst,
                  reply.family == abi::AddressFamily::kIpv6 ? 16 : 4) != 0) {
    return nullptr;
  }
  const abi::BackendEntry* backend = table_.backend_with_id(entry->backend_id);
  if (backend == nullptr || backend->incarnation != entry->backend_incarnation ||
      std::memcmp(backend->address, reply.src, 16) != 0 || to_be16(backend->port) != reply.src_port_be) {
    return nullptr;
  }
  return entry;
}

bool Worker::reply_reaches_us(const WorkerPort& port, const abi::FlowKey& reply) const noexcept {
  if (port.queue_count <= 1) return true;
  const uint32_t hash = toeplitz(reply);
  const uint16_t queue = port.reta_size != 0 ? port.reta[hash % port.reta_size] : static_cast<uint16_t>(hash % port.queue_count);
  return queue == port.queue_id;
}

void Worker::set_nat_hints(uint64_t* storage) noexcept { nat_hints_ = NatPortHints(storage); }

void Worker::add_nat_addresses(const WorkerPort& port) noexcept {
  for (uint8_t i = 0; i < port.nat_ipv4_count; ++i) nat_hints_.add_address(abi::AddressFamily::kIpv4, port.nat_ipv4[i]);
  for (uint8_t i = 0; i < port.nat_ipv6_count; ++i) nat_hints_.add_address(abi::AddressFamily::kIpv6, port.nat_ipv6[i]);
}

void Worker::sweep_nat(uint32_t buckets) noexcept {
  if (!nat_hints_.enabled() || nat_hints_.addresses() == 0) return;
  if (nat_.entries() == 0) {
    // Nothing held: two ends of a pass with nothing seen clear every bit; then rest.
    if (nat_sweep_bucket_ != 0 || !nat_hints_clear_) {
      nat_hints_.end_pass();
      nat_hints_.end_pass();
      nat_sweep_bucket_ = 0;
      nat_hints_clear_ = true;
    }
    return;
  }
  nat_hints_clear_ = false;
  const uint32_t total = nat_.bucket_count();
  for (uint32_t i = 0; i < buckets; ++i) {
    nat_.sweep_bucket(nat_sweep_bucket_, now_s_, [this](const abi::FlowEntry& entry) {
      const uint8_t slot = nat_hints_.find(entry.family, entry.dst);
      if (slot != NatPortHints::kNone) nat_hints_.seen(slot, from_be16(entry.dst_port_be));
    });
    if (++nat_sweep_bucket_ == total) {
      nat_sweep_bucket_ = 0;
      nat_hints_.end_pass();
    }
  }
}

bool Worker::take_nat_port(const WorkerPort& port, const PacketView& view, abi::FlowKey& reply,
                           abi::FlowEntry& entry) noexcept {
  const uint64_t hash = abi::flow_hash(reply, seed_);
  const ClaimResult claimed =
      nat_.claim(reply, hash, FlowTable::initial_state(view.l4_protocol, view.tcp_flags), now_s_);
  if (claimed.entry == nullptr) return false;  // its buckets hold only established sessions
  if (claimed.live) {
    // Held by a live NAT entry: in use, unless its flow entry was since displaced or
    // re-picked (it no longer points back at this port), which frees the port at once.
    if (current_flow(port, *reinterpret_cast<const abi::NatReverseEntry*>(claimed.entry), reply) != nullptr) return false;
    nat_.restart(claimed.entry, FlowTable::initial_state(view.l4_protocol, view.tcp_flags), now_s_);
  }
  auto* reverse = reinterpret_cast<abi::NatReverseEntry*>(claimed.entry);
  reverse->forward_index = flows_.index_of(&entry);
  reverse->vip_id = entry.vip_id;
  nat_mapped_in_burst_ = true;
  return true;
}

uint16_t Worker::allocate_nat_port(const WorkerPort& port, const PacketView& view, const abi::BackendEntry& backend,
                                   abi::FlowEntry& entry) noexcept {
  const abi::AddressFamily family = view.key.family;
  const uint8_t count = family == abi::AddressFamily::kIpv6 ? port.nat_ipv6_count : port.nat_ipv4_count;
  if (count == 0) return 0;
  // Spread clients over the local addresses; a client keeps its address across re-picks.
  const auto address_index = static_cast<uint8_t>((view.key.src[3] ^ view.key.src[15] ^ view.key.src_port_be) % count);
  abi::FlowKey reply{};
  reply.family = family;
  reply.protocol = view.key.protocol;
  std::memcpy(reply.src, backend.address, 16);
  std::memcpy(reply.dst, nat_address(port, family, address_index), family == abi::AddressFamily::kIpv6 ? 16 : 4);
  reply.src_port_be = to_be16(backend.port);
  const uint16_t first = port.nat_port_first, last = port.nat_port_last;
  const uint32_t range = uint32_t{last} - first + 1;
  // About queue_count candidates per port whose replies reach this worker.
  const uint32_t budget = std::min<uint32_t>(range, 64u * port.queue_count);
  const uint8_t slot = nat_hints_.find(family, reply.dst);
  if (slot != NatPortHints::kNone) {
    // 1. A port no NAT entry of this worker holds, found a word of 64 ports at a time.
    uint32_t tested = 0;
    const int32_t taken = nat_hints_.find_clear(slot, first, last, nat_hints_.cursor(slot), [&](uint16_t candidate) {
      if (tested++ == budget) return NatPortHints::Verdict::kStop;
      reply.dst_port_be = to_be16(candidate);
      if (!reply_reaches_us(port, reply)) return NatPortHints::Verdict::kNext;
      if (take_nat_port(port, view, reply, entry)) return NatPortHints::Verdict::kTake;
      nat_hints_.mark(slot, candidate);  // held after all (towards another backend): say so
      return NatPortHints::Verdict::kNext;
    });
    if (taken >= 0) {
      nat_hints_.mark(slot, static_cast<uint16_t>(taken));
      nat_hints_.set_cursor(slot, static_cast<uint16_t>(taken == last ? first : taken + 1));
      entry.nat_address = address_index;
      return to_be16(static_cast<uint16_t>(taken));
    }
  }
  // 2. Every port is held by some flow of this worker (or the address has no hints): a
  //    port is unique per backend, so one held towards another backend, or by an entry
  //    that expired since the last sweep, still serves. Bounded probes from a cursor.
  for (uint32_t attempt = 0; attempt < budget; ++attempt) {
    const auto candidate = static_cast<uint16_t>(first + (nat_cursor_++ % range));
    reply.dst_port_be = to_be16(candidate);
    if (!reply_reaches_us(port, reply)) continue;
    if (!take_nat_port(port, view, reply, entry)) continue;
    if (slot != NatPortHints::kNone) nat_hints_.mark(slot, candidate);
    entry.nat_address = address_index;
    return reply.dst_port_be;
  }
  return 0;
}

// The client closed (FIN) or reset (RST): the NAT entry follows, so its local port is
// free once the closing timeout has passed, not after the established one.
void Worker::close_reply_direction(const WorkerPort& port, const PacketView& view, const abi::BackendEntry& backend,
                                   const abi::FlowEntry& entry) noexcept {
  abi::FlowKey reply{};
  reply.family = view.key.family;
  reply.protocol = view.key.protocol;
  std::memcpy(reply.src, backend.address, 16);
  std::memcpy(reply.dst, nat_address(port, view.key.family, entry.nat_address),
              view.key.family == abi::AddressFamily::kIpv6 ? 16 : 4);
  reply.src_port_be = to_be16(backend.port);
  reply.dst_port_be = entry.nat_port_be;
  nat_.find(reply, abi::flow_hash(reply, seed_), view.tcp_flags, now_s_);
}

void Worker::forward_nat(WorkerPort& port, rte_mbuf* m, const PacketView& view, const abi::VipEntry& vip,
                         const abi::BackendEntry& backend, abi::FlowEntry* entry) noexcept {
  if (entry == nullptr) [[unlikely]] {
    drop(m, DropReason::kFlowTableFull);  // no entry, no way to map the replies back
    return;
  }
  uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
  if (!decrement_hop_limit(frame, view)) [[unlikely]] {  // before a local port is spent on it
    drop(m, DropReason::kTtlExceeded);
    return;
  }
  if (entry->nat_port_be == 0) {
    entry->nat_port_be = allocate_nat_port(port, view, backend, *entry);
    if (entry->nat_port_be == 0) [[unlikely]] {
      drop(m, DropReason::kNatPortsExhausted);
      return;
    }
    add(counters_.lcore->nat_sessions, 1);
  }
  const uint64_t mac = port.neighbours->lookup(backend.id);
  if (mac == 0) [[unlikely]] {
    drop(m, DropReason::kNeighbourUnresolved);
    return;
  }
  if (view.tcp_flags & (kTcpFin | kTcpRst)) [[unlikely]] close_reply_direction(port, view, backend, *entry);
  // Replies go back to where the client's packets came from. Written only when it
  // changed: the entry's line stays clean (read-only) for the flow's other packets.
  if (std::memcmp(entry->peer_mac, frame + 6, 6) != 0) [[unlikely]] std::memcpy(entry->peer_mac, frame + 6, 6);
  if ((view.tcp_flags & kTcpSyn) && settings_.tcp_mss_clamp != 0) [[unlikely]] {
    clamp_mss(frame, view, settings_.tcp_mss_clamp);
  }
  rewrite_tuple(frame, view, nat_address(port, view.key.family, entry->nat_address), entry->nat_port_be,
                backend.address, to_be16(backend.port));
  NeighbourTable::unpack(mac, frame);
  std::memcpy(frame + 6, port.mac, 6);
  trim_to_packet(m, view);
  count_forwarded(vip, backend, view.l3_length);
  queue_tx(m);
}

void Worker::handle_reply(WorkerPort& port, rte_mbuf* m, const PacketView& view, uint64_t hash,
                          abi::FlowEntry* found) noexcept {
  abi::FlowEntry* entry = found != nullptr ? current_flow(port, *reinterpret_cast<const abi::NatReverseEntry*>(found), view.key)
                                           : nullptr;
  if (entry == nullptr && nat_mapped_in_burst_) [[unlikely]] {
    // The early lookup predates the mappings this burst's forward packets made; a reply
    // to one of them can only share their burst when it was captured in advance (a pcap
    // replay), but then it must still be translated.
    found = nat_.find(view.key, hash, view.tcp_flags, now_s_);
    if (found != nullptr) entry = current_flow(port, *reinterpret_cast<const abi::NatReverseEntry*>(found), view.key);
  }
  if (entry == nullptr) {
    drop(m, DropReason::kNatNoSession);
    return;
  }
  uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
  if (!decrement_hop_limit(frame, view)) [[unlikely]] {
    drop(m, DropReason::kTtlExceeded);
    return;
  }
  const auto& reverse = *reinterpret_cast<const abi::NatReverseEntry*>(found);
  flows_.touch(reverse.forward_index, now_s_, view.tcp_flags);  // server pushes keep the flow alive
  rewrite_tuple(frame, view, entry->dst, entry->dst_port_be, entry->src, entry->src_port_be);
  std::memcpy(frame, entry->peer_mac, 6);
  std::memcpy(frame + 6, port.mac, 6);
  trim_to_packet(m, view);
  add(counters_.lcore->nat_replies, 1);
  queue_tx(m);
}

}  // namespace eclb::dp
