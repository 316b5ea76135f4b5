// FlowTable: one worker lcore's flow table (5-tuple -> VIP and backend), laid out in
// the flow region (abi/flow_region.h) so a restarted dataplane can adopt it.
// Bounded, 8-way set-associative. A key lives in its first bucket (flow hash bits 0..)
// while that has room, else in its second (bits 28..), and the first is marked
// overflowed: lookups read a second bucket only behind that mark, so the common case
// stays one bucket line and one entry line, while a full bucket no longer forces an
// eviction (filling to 90%, one bucket per key displaces 10% of the flows, this 4%; at
// 1M flows in a 1M table the traffic harness's fullnat replies without a session fell
// from 57-83k to 1.6k per run at the same packet rate).
// TCP-state-aware idle timeouts; under pressure (both buckets full) the victim is the
// way of the lowest eviction class, oldest first, over both buckets:
//   empty < expired < RST-closed < FIN-closing < half-open < UDP < established,
// and the last two ("protected") are displaced only by a flow past its handshake and
// only with a token from the eviction guard. A SYN flood therefore only ever recycles
// half-open and closed entries; a quiet WebSocket that lives for days keeps its entry.
// Owner lcore only; noexcept, allocation-free.
#pragma once

#include <emmintrin.h>
#include <rte_prefetch.h>

#include <cstring>
#include <initializer_list>

#include <cstdint>

#include "abi/flow_hash.h"
#include "abi/flow_region.h"

namespace eclb::dp {

struct FlowTimeouts {
  uint32_t syn_s = 10;                 // half-open
  uint32_t established_s = 2 * 86400;  // idle established TCP: quiet WebSockets live for days
  uint32_t closing_s = 15;             // after FIN
  uint32_t closed_s = 5;               // after RST
  uint32_t udp_s = 60;
};

struct FlowGuardConfig {
  uint32_t protected_evictions_per_s = 10000;  // refill rate of the eviction guard
  uint32_t protected_eviction_burst = 20000;
};

enum class InsertOutcome : uint8_t {
  kFree,                // empty or expired way
  kEvictedUnprotected,  // displaced a half-open or closed entry
  kEvictedProtected,    // displaced an idle established or UDP entry (guard token spent)
  kRefused,             // nothing this flow may displace: forward without an entry
};

struct InsertResult {
  abi::FlowEntry* entry;
  InsertOutcome outcome;
};

struct ClaimResult {
  abi::FlowEntry* entry;  // nullptr: refused (see InsertOutcome::kRefused)
  bool live;              // the key's live entry, untouched; false: a fresh entry for the key
  InsertOutcome outcome;
};

class FlowTable {
 public:
  FlowTable() = default;
  // bucket_count: a power of two; `occupied` counts the ways in use (a field of the
  // worker's FlowWorkerHeader). The memory stays owned by the flow region. The NAT table
  // is a FlowTable too: its entries are NatReverseEntry (same size and key prefix).
  FlowTable(uint64_t* occupied, abi::FlowBucket* buckets, abi::FlowEntry* entries, uint32_t bucket_count,
            const FlowTimeouts& timeouts, const FlowGuardConfig& guard) noexcept;

  // A prefetch the compiler must keep. GCC treats __builtin_prefetch as touching no
  // memory, so a function holding only loads and prefetches (prefetch_entry) counts as
  // pure, and a call whose result is unused is deleted before it is inlined: the release
  // build had silently lost every entry prefetch. DPDK's rte_prefetch0 is an asm volatile,
  // which cannot be deleted (fastpath_prefetches_survive checks the binary).
  static void prefetch_line(const void* line) noexcept { rte_prefetch0(line); }

  // For a burst: prefetch_entry reads each packet's bucket (independent loads, which
  // overlap) and prefetches the entry line of the way whose signature matches, so the
  // lookups that follow hit the cache instead of paying two dependent DRAM misses each.
  // It returns that way's entry index as a hint for find(), which then checks the one
  // way instead of comparing the bucket's signatures a second time.
  // prefetch() of the bucket line alone is measured by flow_table_bench; the worker uses
  // it for SYNs only (for every packet it was slower on this VM, see worker.cpp).
  static constexpr uint32_t kNoHint = UINT32_MAX;
  uint32_t first_bucket(uint64_t hash) const noexcept { return static_cast<uint32_t>(hash) & mask_; }
  uint32_t second_bucket(uint64_t hash) const noexcept { return static_cast<uint32_t>(hash >> 28) & mask_; }
  void prefetch(uint64_t hash) const noexcept { prefetch_line(&buckets_[first_bucket(hash)]); }
  uint32_t prefetch_entry(uint64_t hash) const noexcept {
    const uint32_t bucket_index = first_bucket(hash);
    const abi::FlowBucket& bucket = buckets_[bucket_index];
    const uint32_t matches = signature_matches(bucket, hash);
    if (matches != 0) {
      const uint32_t index = bucket_index * abi::kFlowWays + first_way(matches);
      prefetch_line(&entries_[index]);
      return index;
    }
    if (bucket.overflowed != 0) prefetch_line(&buckets_[second_bucket(hash)]);
    return kNoHint;
  }

  static constexpr uint16_t signature_of(uint64_t hash) noexcept { return static_cast<uint16_t>(hash >> 48) | 1; }
  // Ways of `bucket` whose signature matches `hash`, two mask bits per way (SSE2: the
  // eight 16-bit signatures compared at once, no per-way branch).
  static uint32_t signature_matches(const abi::FlowBucket& bucket, uint64_t hash) noexcept {
    const __m128i signatures = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bucket.signature));
    const __m128i wanted = _mm_set1_epi16(static_cast<short>(static_cast<uint16_t>(hash >> 48) | 1));
    return static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi16(signatures, wanted)));
  }
  static uint32_t first_way(uint32_t matches) noexcept { return static_cast<uint32_t>(__builtin_ctz(matches)) / 2; }
  // Whether `entry` holds `key`: its first 40 bytes are a FlowKey, compared as two
  // 16-byte vectors and a word (no call to memcmp).
  static bool holds(const abi::FlowEntry& entry, const abi::FlowKey& key) noexcept {
    const auto* a = reinterpret_cast<const __m128i*>(&entry);
    const auto* b = reinterpret_cast<const __m128i*>(&key);
    const __m128i same = _mm_and_si128(_mm_cmpeq_epi8(_mm_loadu_si128(a), _mm_loadu_si128(b)),
                                       _mm_cmpeq_epi8(_mm_loadu_si128(a + 1), _mm_loadu_si128(b + 1)));
    uint64_t tail_a, tail_b;
    std::memcpy(&tail_a, reinterpret_cast<const uint8_t*>(&entry) + 32, 8);
    std::memcpy(&tail_b, reinterpret_cast<const uint8_t*>(&key) + 32, 8);
    return _mm_movemask_epi8(same) == 0xFFFF && tail_a == tail_b;
  }
  static uint32_t without_way(uint32_t matches, uint32_t way) noexcept { return matches & ~(3u << (2 * way)); }

  // The live entry of `key`, with its last-seen time refreshed and its TCP state
  // advanced by `tcp_flags`; nullptr if absent or expired.
  abi::FlowEntry* find(const abi::FlowKey& key, uint64_t hash, uint8_t tcp_flags, uint32_t now_s) noexcept;
  // find() that first tries the way prefetch_entry() returned for `hash`. The hint may be
  // stale (a packet earlier in the burst inserted, evicted or expired that way): it is
  // taken only if the way still holds the signature and the key, else the full lookup runs.
  abi::FlowEntry* find(const abi::FlowKey& key, uint64_t hash, uint8_t tcp_flags, uint32_t now_s,
                       uint32_t hint) noexcept {
    if (hint != kNoHint) [[likely]] {
      const uint32_t bucket_index = hint / abi::kFlowWays;
      const uint32_t way = hint % abi::kFlowWays;
      if (buckets_[bucket_index].signature[way] == signature_of(hash) && holds(entries_[hint], key)) [[likely]] {
        return settle(hint, key.protocol, tcp_flags, now_s);
      }
    }
    return find(key, hash, tcp_flags, now_s);
  }

  // The live entry of `key` without touching it (for ICMP errors about the flow).
  const abi::FlowEntry* peek(const abi::FlowKey& key, uint64_t hash, uint32_t now_s) const noexcept;

  // Adds `key` (known to be absent) in `state`. The caller fills vip/backend fields.
  InsertResult insert(const abi::FlowKey& key, uint64_t hash, abi::FlowState state, uint32_t now_s) noexcept;

  // `key` for a new use when it may be present: its live entry untouched (live = true),
  // or a fresh entry in `state` — the key's expired way reused in place, else a way taken
  // as insert() takes one. A key is never in the table twice (peek() + insert() would
  // add a second copy beside an expired one, and lookups would meet the stale copy first).
  ClaimResult claim(const abi::FlowKey& key, uint64_t hash, abi::FlowState state, uint32_t now_s) noexcept;

  // Starts `entry` (live, of this table) over as a new use of its key: `state`, seen now,
  // everything after the key zeroed.
  void restart(abi::FlowEntry* entry, abi::FlowState state, uint32_t now_s) noexcept;

  // Housekeeping of one bucket: frees its expired ways and calls visit(const FlowEntry&)
  // for every live one. Owner lcore, between bursts.
  template <typename Visit>
  void sweep_bucket(uint32_t bucket_index, uint32_t now_s, Visit&& visit) noexcept {
    abi::FlowBucket& bucket = buckets_[bucket_index & mask_];
    for (uint32_t way = 0; way < abi::kFlowWays; ++way) {
      if (bucket.signature[way] == 0) continue;
      if (now_s - bucket.last_seen_s[way] > timeout_of(bucket.state[way])) {
        bucket.signature[way] = 0;
        --*occupied_;
        continue;
      }
      visit(static_cast<const abi::FlowEntry&>(entries_[(bucket_index & mask_) * abi::kFlowWays + way]));
    }
  }

  uint64_t entries() const noexcept { return *occupied_; }

  // Position of an entry (bucket * kFlowWays + way), for references from the NAT table.
  uint32_t index_of(const abi::FlowEntry* entry) const noexcept { return static_cast<uint32_t>(entry - entries_); }
  // The entry at `index` if that way is occupied and not expired, else nullptr.
  abi::FlowEntry* live_entry(uint32_t index, uint32_t now_s) noexcept {
    if (index >= (mask_ + 1) * abi::kFlowWays) return nullptr;
    const abi::FlowBucket& bucket = buckets_[index / abi::kFlowWays];
    const uint32_t way = index % abi::kFlowWays;
    if (bucket.signature[way] == 0 || now_s - bucket.last_seen_s[way] > timeout_of(bucket.state[way])) return nullptr;
    return &entries_[index];
  }
  // Prefetches the bucket and entry lines of the entry at `index` (the flow a NAT entry
  // points back at: live_entry and touch follow).
  void prefetch_index(uint32_t index) const noexcept {
    if (index >= (mask_ + 1) * abi::kFlowWays) return;
    prefetch_line(&buckets_[index / abi::kFlowWays]);
    prefetch_line(&entries_[index]);
  }
  // Marks the entry at `index` as seen now (its flow is active in the other direction)
  // and advances its TCP state by `tcp_flags` (a FIN or RST from either side closes it).
  void touch(uint32_t index, uint32_t now_s, uint8_t tcp_flags) noexcept {
    abi::FlowBucket& bucket = buckets_[index / abi::kFlowWays];
    const uint32_t way = index % abi::kFlowWays;
    bucket.last_seen_s[way] = now_s;
    if (tcp_flags & 0x05) bucket.state[way] = next_state(bucket.state[way], tcp_flags);  // FIN or RST
  }
  uint32_t bucket_count() const noexcept { return mask_ + 1; }
  const FlowTimeouts& timeouts() const noexcept { return timeouts_; }

  static abi::FlowState initial_state(uint8_t protocol, uint8_t tcp_flags) noexcept;
  static abi::FlowState next_state(abi::FlowState current, uint8_t tcp_flags) noexcept {
    constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kAck = 0x10;
    if (current == abi::FlowState::kUdp) return abi::FlowState::kUdp;
    if (tcp_flags & kRst) return abi::FlowState::kTcpClosed;
    if (tcp_flags & kFin) return abi::FlowState::kTcpClosing;
    if ((tcp_flags & (kSyn | kAck)) == kSyn) return abi::FlowState::kTcpSynSeen;  // (re)opening
    if (current == abi::FlowState::kTcpClosing || current == abi::FlowState::kTcpClosed) return current;
    return abi::FlowState::kTcpEstablished;
  }
  uint32_t timeout_of(abi::FlowState state) const noexcept {
    return timeout_by_state_[static_cast<uint8_t>(state) & (kStates - 1)];
  }

 private:
  bool take_guard_token(uint32_t now_s) noexcept;
  // The found way of a key: nullptr and the way freed if it has expired (so the flow is
  // inserted afresh, never twice in the table), else refreshed and its entry.
  abi::FlowEntry* settle(uint32_t index, uint8_t protocol, uint8_t tcp_flags, uint32_t now_s) noexcept {
    abi::FlowBucket& bucket = buckets_[index / abi::kFlowWays];
    const uint32_t way = index % abi::kFlowWays;
    const abi::FlowState state = bucket.state[way];
    if (now_s - bucket.last_seen_s[way] > timeout_of(state)) [[unlikely]] {
      bucket.signature[way] = 0;
      --*occupied_;
      return nullptr;
    }
    bucket.last_seen_s[way] = now_s;
    bucket.state[way] = protocol == 6 ? next_state(state, tcp_flags) : state;
    return &entries_[index];
  }
  // The entry of `key` in `bucket_index`, live or expired; UINT32_MAX if absent.
  uint32_t way_of(uint32_t bucket_index, const abi::FlowKey& key, uint64_t hash) const noexcept;

  // Room for every FlowState (six), a power of two so a state read from the shared table
  // is masked into range with an AND (timeout_of runs per packet); an unknown one has
  // timeout 0, so it expires within a second.
  static constexpr uint32_t kStates = 8;

  uint64_t* occupied_ = nullptr;
  uint32_t timeout_by_state_[kStates] = {};
  abi::FlowBucket* buckets_ = nullptr;
  abi::FlowEntry* entries_ = nullptr;
  uint32_t mask_ = 0;
  FlowTimeouts timeouts_;
  FlowGuardConfig guard_;
  uint64_t guard_tokens_ = 0;
  uint32_t guard_refilled_s_ = 0;
};

}  // namespace eclb::dp
