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
              "a FlowEntry starts with its FlowKey, so keys compare with one memcmp");

constexpr uint16_t signature_of(uint64_t hash) noexcept { return static_cast<uint16_t>(hash >> 48) | 1; }

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

abi::FlowEntry* FlowTable::find(const abi::FlowKey& key, uint64_t hash, uint8_t tcp_flags, uint32_t now_s) noexcept {
  const uint32_t bucket_index = static_cast<uint32_t>(hash) & mask_;
  abi::FlowBucket& bucket = buckets_[bucket_index];
  for (uint32_t matches = signature_matches(bucket, hash); matches != 0;) {
    const uint32_t way = first_way(matches);
    matches = without_way(matches, way);
    abi::FlowEntry& entry = entries_[bucket_index * abi::kFlowWays + way];
    if (std::memcmp(&entry, &key, sizeof key) != 0) continue;
    const FlowState state = bucket.state[way];
    if (now_s - bucket.last_seen_s[way] > timeout_of(state)) {
      // Expired: free the way so the flow is inserted afresh (never twice in a bucket).
      bucket.signature[way] = 0;
      --*occupied_;
      return nullptr;
    }
    bucket.last_seen_s[way] = now_s;
    bucket.state[way] = key.protocol == 6 ? next_state(state, tcp_flags) : state;
    return &entry;
  }
  return nullptr;
}

const abi::FlowEntry* FlowTable::peek(const abi::FlowKey& key, uint64_t hash, uint32_t now_s) const noexcept {
  const uint32_t bucket_index = static_cast<uint32_t>(hash) & mask_;
  const abi::FlowBucket& bucket = buckets_[bucket_index];
  for (uint32_t matches = signature_matches(bucket, hash); matches != 0;) {
    const uint32_t way = first_way(matches);
    matches = without_way(matches, way);
    const abi::FlowEntry& entry = entries_[bucket_index * abi::kFlowWays + way];
    if (std::memcmp(&entry, &key, sizeof key) != 0) continue;
    return now_s - bucket.last_seen_s[way] > timeout_of(bucket.state[way]) ? nullptr : &entry;
  }
  return nullptr;
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
  const uint32_t bucket_index = static_cast<uint32_t>(hash) & mask_;
  abi::FlowBucket& bucket = buckets_[bucket_index];
  uint32_t victim = 0;
  uint32_t victim_class = UINT32_MAX;
  uint32_t victim_age = 0;
  for (uint32_t way = 0; way < abi::kFlowWays; ++way) {
    const FlowState way_state = bucket.signature[way] == 0 ? FlowState::kEmpty : bucket.state[way];
    const uint32_t age = now_s - bucket.last_seen_s[way];
    uint32_t cls = eviction_class(way_state);
    if (cls != 0 && age > timeout_of(way_state)) cls = kExpiredClass;
    if (cls < victim_class || (cls == victim_class && age > victim_age)) {
      victim = way;
      victim_class = cls;
      victim_age = age;
    }
  }
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
