// Set-associative flow table with class-ordered eviction (see flow_table.h).
#include "dataplane/fastpath/flow_table.h"

#include <algorithm>
#include <cstring>

namespace eclb::dp {
namespace {

using abi::FlowState;

static_assert(offsetof(abi::FlowEntry, src) == offsetof(abi::FlowKey, src) &&
                  offsetof(abi::FlowEntry, src_port_be) == offsetof(abi::FlowKey, src_port_be) &&
                  offsetof(abi::FlowEntry, family) == offsetof(abi::FlowKey, family) &&
                  offsetof(abi::FlowEntry, protocol) == offsetof(abi::FlowKey, protocol),
              "a FlowEntry starts with its FlowKey, so keys compare as its first 40 bytes");

// Eviction class of a live (unexpired) entry; lower goes first.
constexpr uint32_t eviction_class(FlowState state) noexcept {
  switch (state) {
    case FlowState::kEmpty: return 0;
    case FlowState::kTcpClosed: return 2;
    case FlowState::kTcpClosing: return 3;
    case FlowState::kTcpSynSeen: return 4;
    case FlowState::kUdp: return 5;
    case FlowState::kTcpEstablished: return 6;
  }
  return 6;
}
constexpr uint32_t kExpiredClass = 1;
constexpr uint32_t kFirstProtectedClass = 5;

}  // namespace

FlowTable::FlowTable(uint64_t* occupied, abi::FlowBucket* buckets, abi::FlowEntry* entries, uint32_t bucket_count,
                     const FlowTimeouts& timeouts, const FlowGuardConfig& guard) noexcept
    : occupied_(occupied),
      buckets_(buckets),
      entries_(entries),
      mask_(bucket_count - 1),
      timeouts_(timeouts),
      guard_(guard),
      guard_tokens_(guard.protected_eviction_burst) {
  timeout_by_state_[static_cast<uint8_t>(FlowState::kEmpty)] = 0;
  timeout_by_state_[static_cast<uint8_t>(FlowState::kTcpSynSeen)] = timeouts.syn_s;
  timeout_by_state_[static_cast<uint8_t>(FlowState::kTcpEstablished)] = timeouts.established_s;
  timeout_by_state_[static_cast<uint8_t>(FlowState::kTcpClosing)] = timeouts.closing_s;
  timeout_by_state_[static_cast<uint8_t>(FlowState::kTcpClosed)] = timeouts.closed_s;
  timeout_by_state_[static_cast<uint8_t>(FlowState::kUdp)] = timeouts.udp_s;
}

FlowState FlowTable::initial_state(uint8_t protocol, uint8_t tcp_flags) noexcept {
  if (protocol != 6) return FlowState::kUdp;  // every port-carrying non-TCP flow ages like UDP
  return next_state(FlowState::kTcpSynSeen, tcp_flags);
}

uint32_t FlowTable::way_of(uint32_t bucket_index, const abi::FlowKey& key, uint64_t hash) const noexcept {
  for (uint32_t matches = signature_matches(buckets_[bucket_index], hash); matches != 0;) {
    const uint32_t way = first_way(matches);
    matches = without_way(matches, way);
    if (holds(entries_[bucket_index * abi::kFlowWays + way], key)) return way;
  }
  return UINT32_MAX;
}

abi::FlowEntry* FlowTable::find(const abi::FlowKey& key, uint64_t hash, uint8_t tcp_flags, uint32_t now_s) noexcept {
  uint32_t bucket_index = first_bucket(hash);
  uint32_t way = way_of(bucket_index, key, hash);
  if (way == UINT32_MAX) {
    if (buckets_[bucket_index].overflowed == 0) return nullptr;
    bucket_index = second_bucket(hash);
    way = way_of(bucket_index, key, hash);
    if (way == UINT32_MAX) return nullptr;
  }
  return settle(bucket_index * abi::kFlowWays + way, key.protocol, tcp_flags, now_s);
}

const abi::FlowEntry* FlowTable::peek(const abi::FlowKey& key, uint64_t hash, uint32_t now_s) const noexcept {
  for (const uint32_t bucket_index : {first_bucket(hash), second_bucket(hash)}) {
    const uint32_t way = way_of(bucket_index, key, hash);
    if (way == UINT32_MAX) {
      if (buckets_[bucket_index].overflowed == 0) return nullptr;
      continue;
    }
    const abi::FlowBucket& bucket = buckets_[bucket_index];
    return now_s - bucket.last_seen_s[way] > timeout_of(bucket.state[way]) ? nullptr
                                                                            : &entries_[bucket_index * abi::kFlowWays + way];
  }
  return nullptr;
}

ClaimResult FlowTable::claim(const abi::FlowKey& key, uint64_t hash, FlowState state, uint32_t now_s) noexcept {
  uint32_t bucket_index = first_bucket(hash);
  uint32_t way = way_of(bucket_index, key, hash);
  if (way == UINT32_MAX && buckets_[bucket_index].overflowed != 0) {
    bucket_index = second_bucket(hash);
    way = way_of(bucket_index, key, hash);
  }
  if (way == UINT32_MAX) {
    const InsertResult inserted = insert(key, hash, state, now_s);
    return {inserted.entry, false, inserted.outcome};
  }
  abi::FlowEntry* entry = &entries_[bucket_index * abi::kFlowWays + way];
  const abi::FlowBucket& bucket = buckets_[bucket_index];
  if (now_s - bucket.last_seen_s[way] <= timeout_of(bucket.state[way])) return {entry, true, InsertOutcome::kFree};
  restart(entry, state, now_s);
  return {entry, false, InsertOutcome::kFree};
}

void FlowTable::restart(abi::FlowEntry* entry, FlowState state, uint32_t now_s) noexcept {
  const uint32_t index = index_of(entry);
  abi::FlowBucket& bucket = buckets_[index / abi::kFlowWays];
  bucket.state[index % abi::kFlowWays] = state;
  bucket.last_seen_s[index % abi::kFlowWays] = now_s;
  auto* bytes = reinterpret_cast<uint8_t*>(entry);
  std::memset(bytes + sizeof(abi::FlowKey), 0, sizeof *entry - sizeof(abi::FlowKey));
}

bool FlowTable::take_guard_token(uint32_t now_s) noexcept {
  if (now_s != guard_refilled_s_) {
    const uint64_t elapsed = now_s - guard_refilled_s_;
    guard_tokens_ = std::min<uint64_t>(guard_.protected_eviction_burst,
                                       guard_tokens_ + elapsed * guard_.protected_evictions_per_s);
    guard_refilled_s_ = now_s;
  }
  if (guard_tokens_ == 0) return false;
  --guard_tokens_;
  return true;
}

InsertResult FlowTable::insert(const abi::FlowKey& key, uint64_t hash, FlowState state, uint32_t now_s) noexcept {
  // Per candidate bucket: its best victim (lowest class, then oldest) and whether it has
  // a free way (empty or expired). The first bucket if it has room, else the second if
  // it has, else the better victim of the two; landing in the second marks the first.
  struct Candidate {
    uint32_t bucket, way = 0, cls = UINT32_MAX, age = 0, free = 0;
  };
  Candidate candidates[2] = {{first_bucket(hash)}, {second_bucket(hash)}};
  for (Candidate& c : candidates) {
    if (&c == &candidates[1] && candidates[0].free != 0) break;  // room in the first: done
    const abi::FlowBucket& candidate = buckets_[c.bucket];
    for (uint32_t way = 0; way < abi::kFlowWays; ++way) {
      const FlowState way_state = candidate.signature[way] == 0 ? FlowState::kEmpty : candidate.state[way];
      const uint32_t age = now_s - candidate.last_seen_s[way];
      uint32_t cls = eviction_class(way_state);
      if (cls != 0 && age > timeout_of(way_state)) cls = kExpiredClass;
      c.free += cls <= kExpiredClass;
      if (cls < c.cls || (cls == c.cls && age > c.age)) {
        c.way = way;
        c.cls = cls;
        c.age = age;
      }
    }
  }
  const Candidate& a = candidates[0];
  const Candidate& b = candidates[1];
  const bool second = a.free == 0 && a.bucket != b.bucket &&
                      (b.free != 0 || b.cls < a.cls || (b.cls == a.cls && b.age > a.age));
  const Candidate& chosen = second ? b : a;
  if (second) buckets_[a.bucket].overflowed = 1;
  const uint32_t bucket_index = chosen.bucket;
  const uint32_t victim = chosen.way;
  const uint32_t victim_class = chosen.cls;
  abi::FlowBucket& bucket = buckets_[bucket_index];
  InsertOutcome outcome = InsertOutcome::kFree;
  if (victim_class >= kFirstProtectedClass) {
    // Only a flow past its handshake may push out a protected entry, and only at the
    // guard's rate: a flood of new tuples cannot flush established flows.
    if (state == FlowState::kTcpSynSeen || !take_guard_token(now_s)) return {nullptr, InsertOutcome::kRefused};
    outcome = InsertOutcome::kEvictedProtected;
  } else if (victim_class > kExpiredClass) {
    outcome = InsertOutcome::kEvictedUnprotected;
  }
  if (victim_class == 0) ++*occupied_;
  abi::FlowEntry& entry = entries_[bucket_index * abi::kFlowWays + victim];
  std::memset(&entry, 0, sizeof entry);
  std::memcpy(&entry, &key, sizeof key);
  bucket.signature[victim] = signature_of(hash);
  bucket.state[victim] = state;
  bucket.last_seen_s[victim] = now_s;
  return {&entry, outcome};
}

}  // namespace eclb::dp
