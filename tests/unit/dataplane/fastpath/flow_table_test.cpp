// FlowTable: lookups, TCP-state timeouts, class-ordered eviction, the eviction guard.
#include "dataplane/fastpath/flow_table.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace eclb::dp {
namespace {

using abi::FlowState;

class FlowTableTest : public ::testing::Test {
 protected:
  static constexpr uint32_t kBuckets = 4;

  void SetUp() override { make({}, {}); }

  void make(FlowTimeouts timeouts, FlowGuardConfig guard) {
    header_ = {};
    buckets_.assign(kBuckets, abi::FlowBucket{});
    entries_.assign(kBuckets * abi::kFlowWays, abi::FlowEntry{});
    table_ = FlowTable(&header_.entries, buckets_.data(), entries_.data(), kBuckets, timeouts, guard);
  }

  // Key i, hashing to bucket 0 with a distinct signature.
  static abi::FlowKey key(uint32_t i) {
    abi::FlowKey k{};
    k.family = abi::AddressFamily::kIpv4;
    k.protocol = 6;
    k.src[0] = 198;
    k.src[3] = static_cast<uint8_t>(i);
    k.src_port_be = static_cast<uint16_t>(i);
    return k;
  }
  // Both candidate buckets 0 (bits 0.. and 28.. clear): the one-bucket cases below.
  static uint64_t hash(uint32_t i) { return (uint64_t{i + 1} << 48) | (uint64_t{i} << 8); }

  abi::FlowEntry* add(uint32_t i, FlowState state, uint32_t now) {
    InsertResult result = table_.insert(key(i), hash(i), state, now);
    if (result.entry != nullptr) result.entry->backend_id = i;
    last_outcome_ = result.outcome;
    return result.entry;
  }

  abi::FlowWorkerHeader header_{};
  std::vector<abi::FlowBucket> buckets_;
  std::vector<abi::FlowEntry> entries_;
  FlowTable table_;
  InsertOutcome last_outcome_ = InsertOutcome::kFree;
};

TEST_F(FlowTableTest, FindsWhatWasInserted) {
  ASSERT_NE(add(1, FlowState::kTcpSynSeen, 100), nullptr);
  EXPECT_EQ(last_outcome_, InsertOutcome::kFree);
  abi::FlowEntry* found = table_.find(key(1), hash(1), 0x10, 101);
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->backend_id, 1u);
  EXPECT_EQ(table_.find(key(2), hash(2), 0x10, 101), nullptr);
  EXPECT_EQ(table_.entries(), 1u);
}

TEST_F(FlowTableTest, TcpStatesFollowTheFlags) {
  EXPECT_EQ(FlowTable::initial_state(6, 0x02), FlowState::kTcpSynSeen);
  EXPECT_EQ(FlowTable::initial_state(6, 0x10), FlowState::kTcpEstablished);  // mid-stream pickup
  EXPECT_EQ(FlowTable::initial_state(17, 0), FlowState::kUdp);
  EXPECT_EQ(FlowTable::next_state(FlowState::kTcpSynSeen, 0x10), FlowState::kTcpEstablished);
  EXPECT_EQ(FlowTable::next_state(FlowState::kTcpEstablished, 0x11), FlowState::kTcpClosing);
  EXPECT_EQ(FlowTable::next_state(FlowState::kTcpClosing, 0x10), FlowState::kTcpClosing);
  EXPECT_EQ(FlowTable::next_state(FlowState::kTcpEstablished, 0x14), FlowState::kTcpClosed);
  EXPECT_EQ(FlowTable::next_state(FlowState::kTcpClosed, 0x02), FlowState::kTcpSynSeen);
}

TEST_F(FlowTableTest, IdleTimeoutsDependOnTheState) {
  make(FlowTimeouts{5, 1000, 15, 5, 60}, {});
  add(1, FlowState::kTcpSynSeen, 100);
  EXPECT_NE(table_.find(key(1), hash(1), 0x02, 105), nullptr);  // 5 s idle: still there
  EXPECT_EQ(table_.find(key(1), hash(1), 0x02, 111), nullptr);  // 6 s after the refresh: gone
  EXPECT_EQ(table_.entries(), 0u);                               // and its way freed
  add(2, FlowState::kTcpSynSeen, 100);
  ASSERT_NE(table_.find(key(2), hash(2), 0x10, 101), nullptr);    // established now
  EXPECT_NE(table_.find(key(2), hash(2), 0x10, 1100), nullptr);   // 999 s idle: kept
  EXPECT_EQ(table_.find(key(2), hash(2), 0x10, 2101), nullptr);   // 1001 s: expired
}

TEST_F(FlowTableTest, AnExpiredFlowIsReinsertedNotDuplicated) {
  make(FlowTimeouts{5, 1000, 15, 5, 60}, {});
  add(1, FlowState::kTcpSynSeen, 100);
  EXPECT_EQ(table_.find(key(1), hash(1), 0x02, 200), nullptr);
  add(1, FlowState::kTcpSynSeen, 200);
  int copies = 0;
  for (uint32_t way = 0; way < abi::kFlowWays; ++way) copies += buckets_[0].signature[way] != 0;
  EXPECT_EQ(copies, 1);
}

TEST_F(FlowTableTest, ClaimKeepsOneCopyOfAKey) {
  make(FlowTimeouts{5, 1000, 15, 5, 60}, {});
  add(1, FlowState::kTcpEstablished, 100);
  ClaimResult live = table_.claim(key(1), hash(1), FlowState::kTcpSynSeen, 101);
  ASSERT_NE(live.entry, nullptr);
  EXPECT_TRUE(live.live);
  EXPECT_EQ(live.entry->backend_id, 1u) << "a live entry is returned untouched";
  EXPECT_EQ(buckets_[0].last_seen_s[0], 100u);

  // Expired but never looked up: peek() says absent, yet the way still holds the key.
  ASSERT_EQ(table_.peek(key(1), hash(1), 2000), nullptr);
  ClaimResult fresh = table_.claim(key(1), hash(1), FlowState::kTcpSynSeen, 2000);
  ASSERT_NE(fresh.entry, nullptr);
  EXPECT_FALSE(fresh.live);
  EXPECT_EQ(fresh.entry, live.entry) << "the expired way is reused in place";
  EXPECT_EQ(fresh.entry->backend_id, 0u) << "and starts over";
  EXPECT_EQ(buckets_[0].state[0], FlowState::kTcpSynSeen);
  int copies = 0;
  for (uint32_t way = 0; way < abi::kFlowWays; ++way) copies += buckets_[0].signature[way] != 0;
  EXPECT_EQ(copies, 1);
  EXPECT_EQ(table_.entries(), 1u);
  EXPECT_FALSE(table_.claim(key(2), hash(2), FlowState::kUdp, 2000).live) << "an absent key is inserted";
  EXPECT_EQ(table_.entries(), 2u);
}

// The hint prefetch_entry() returns lets find() check one way; a packet earlier in the
// burst may have changed that way since, so the hint is checked, never trusted.
TEST_F(FlowTableTest, AHintIsCheckedNotTrusted) {
  // Keys 1 and 2 share a signature (hash(i) >> 48 is i + 1, and signatures set bit 0).
  abi::FlowEntry* one = add(1, FlowState::kTcpEstablished, 100);
  abi::FlowEntry* two = add(2, FlowState::kTcpEstablished, 100);
  ASSERT_NE(one, two);
  const uint32_t hint = table_.prefetch_entry(hash(2));
  ASSERT_EQ(hint, table_.index_of(one)) << "the first way with the signature";
  EXPECT_EQ(table_.find(key(2), hash(2), 0x10, 101, hint), two) << "another key in that way: the full lookup";
  EXPECT_EQ(table_.find(key(1), hash(1), 0x10, 101, table_.prefetch_entry(hash(1))), one);
  EXPECT_EQ(table_.prefetch_entry(hash(3)), FlowTable::kNoHint);
  EXPECT_EQ(table_.find(key(3), hash(3), 0x10, 101, FlowTable::kNoHint), nullptr);
}

TEST_F(FlowTableTest, AHintToAFreedWayIsNotAHit) {
  make(FlowTimeouts{5, 1000, 15, 5, 60}, {});
  add(1, FlowState::kTcpSynSeen, 100);
  const uint32_t hint = table_.prefetch_entry(hash(1));
  ASSERT_NE(hint, FlowTable::kNoHint);
  // Expired, found so by a lookup earlier in the burst and its way freed: the way still
  // holds the key's bytes.
  EXPECT_EQ(table_.find(key(1), hash(1), 0x10, 200), nullptr);
  EXPECT_EQ(table_.entries(), 0u);
  EXPECT_EQ(table_.find(key(1), hash(1), 0x10, 200, hint), nullptr) << "a freed way is not a hit";
  EXPECT_EQ(table_.entries(), 0u) << "nor freed a second time";
  abi::FlowEntry* again = add(1, FlowState::kTcpSynSeen, 200);
  EXPECT_EQ(table_.find(key(1), hash(1), 0x10, 201, hint), again) << "inserted again: found again";
}

TEST_F(FlowTableTest, AnExpiredEntryFoundByItsHintIsFreed) {
  make(FlowTimeouts{5, 1000, 15, 5, 60}, {});
  add(1, FlowState::kTcpSynSeen, 100);
  EXPECT_EQ(table_.find(key(1), hash(1), 0x10, 200, table_.prefetch_entry(hash(1))), nullptr);
  EXPECT_EQ(table_.entries(), 0u);
  EXPECT_EQ(buckets_[0].signature[0], 0u);
}

TEST_F(FlowTableTest, AStateOutsideTheEnumExpiresWithinASecond) {
  // The table lives in shared memory; a state no version wrote must not index past the
  // timeouts, nor keep its way for long.
  add(1, FlowState::kTcpEstablished, 100);
  for (const uint8_t state : {6, 7, 0x0F, 0xFF}) {
    buckets_[0].state[0] = static_cast<FlowState>(state);
    EXPECT_EQ(table_.timeout_of(buckets_[0].state[0]), 0u) << int{state};
  }
  EXPECT_EQ(table_.find(key(1), hash(1), 0x10, 101), nullptr);
  EXPECT_EQ(table_.entries(), 0u);
}

TEST_F(FlowTableTest, ASweepFreesExpiredWaysAndVisitsLiveOnes) {
  make(FlowTimeouts{5, 1000, 15, 5, 60}, {});
  add(1, FlowState::kTcpSynSeen, 100);
  add(2, FlowState::kTcpEstablished, 100);
  std::vector<uint32_t> visited;
  table_.sweep_bucket(0, 110, [&](const abi::FlowEntry& entry) { visited.push_back(entry.backend_id); });
  EXPECT_EQ(visited, std::vector<uint32_t>{2});
  EXPECT_EQ(table_.entries(), 1u) << "the half-open flow idle for 10 s is freed";
}

TEST_F(FlowTableTest, PressureEvictsClosedThenHalfOpenBeforeEstablished) {
  // Fill bucket 0: 5 established (oldest first), 1 half-open, 1 closing, 1 closed.
  for (uint32_t i = 0; i < 5; ++i) add(i, FlowState::kTcpEstablished, 100 + i);
  add(5, FlowState::kTcpSynSeen, 200);
  add(6, FlowState::kTcpClosing, 200);
  add(7, FlowState::kTcpClosed, 200);
  add(8, FlowState::kTcpSynSeen, 201);
  EXPECT_EQ(last_outcome_, InsertOutcome::kEvictedUnprotected);
  EXPECT_EQ(table_.find(key(7), hash(7), 0, 201), nullptr) << "the RST-closed entry goes first";
  add(9, FlowState::kTcpSynSeen, 202);
  EXPECT_EQ(table_.find(key(6), hash(6), 0, 202), nullptr) << "then the FIN-closing one";
  add(10, FlowState::kTcpSynSeen, 203);
  EXPECT_EQ(table_.find(key(5), hash(5), 0, 203), nullptr) << "then the oldest half-open";
  for (uint32_t i = 0; i < 5; ++i) EXPECT_NE(table_.find(key(i), hash(i), 0x10, 204), nullptr);
}

TEST_F(FlowTableTest, ASynFloodNeverDisplacesEstablishedFlows) {
  for (uint32_t i = 0; i < abi::kFlowWays; ++i) add(i, FlowState::kTcpEstablished, 100);
  for (uint32_t i = 100; i < 200; ++i) {
    EXPECT_EQ(add(i, FlowState::kTcpSynSeen, 150), nullptr);
    EXPECT_EQ(last_outcome_, InsertOutcome::kRefused);
  }
  for (uint32_t i = 0; i < abi::kFlowWays; ++i) EXPECT_NE(table_.find(key(i), hash(i), 0x10, 151), nullptr);
}

TEST_F(FlowTableTest, EstablishedFlowsDisplaceIdleOnesOnlyAtTheGuardRate) {
  make({}, FlowGuardConfig{2, 3});  // 2 per second, burst 3
  for (uint32_t i = 0; i < abi::kFlowWays; ++i) add(i, FlowState::kTcpEstablished, 100 + i);
  int admitted = 0;
  for (uint32_t i = 100; i < 110; ++i) admitted += add(i, FlowState::kTcpEstablished, 200) != nullptr;
  EXPECT_EQ(admitted, 3) << "the burst";
  EXPECT_EQ(table_.find(key(0), hash(0), 0x10, 200), nullptr) << "the idlest established entry went first";
  admitted = 0;
  for (uint32_t i = 110; i < 120; ++i) admitted += add(i, FlowState::kTcpEstablished, 201) != nullptr;
  EXPECT_EQ(admitted, 2) << "one second later: the refill rate";
}

TEST_F(FlowTableTest, PeekDoesNotTouch) {
  add(1, FlowState::kTcpSynSeen, 100);
  ASSERT_NE(table_.peek(key(1), hash(1), 101), nullptr);
  EXPECT_EQ(buckets_[0].last_seen_s[0], 100u);
  EXPECT_EQ(buckets_[0].state[0], FlowState::kTcpSynSeen);
}

TEST_F(FlowTableTest, ASecondBucketTakesWhatTheFirstCannotHold) {
  // Twelve flows whose first bucket is 0 and whose second buckets are 1-3: no eviction.
  for (uint32_t i = 0; i < 12; ++i) {
    const uint64_t spread = hash(i) | (uint64_t{i % 3 + 1} << 28);
    InsertResult result = table_.insert(key(i), spread, FlowState::kTcpEstablished, 100);
    ASSERT_NE(result.entry, nullptr);
    EXPECT_EQ(result.outcome, InsertOutcome::kFree) << i;
  }
  for (uint32_t i = 0; i < 12; ++i) {
    const uint64_t spread = hash(i) | (uint64_t{i % 3 + 1} << 28);
    EXPECT_NE(table_.find(key(i), spread, 0x10, 101), nullptr) << i;
    EXPECT_NE(table_.peek(key(i), spread, 101), nullptr) << i;
  }
  EXPECT_EQ(table_.entries(), 12u);
}

// Fills a 32K-entry table to `load` with established flows; returns how many inserts
// displaced another flow. `one_choice` gives every key the same bucket twice.
uint32_t displaced_at(double load, bool one_choice) {
  constexpr uint32_t kBuckets = 1u << 12;
  abi::FlowWorkerHeader header{};
  std::vector<abi::FlowBucket> buckets(kBuckets);
  std::vector<abi::FlowEntry> entries(kBuckets * abi::kFlowWays);
  FlowTable table(&header.entries, buckets.data(), entries.data(), kBuckets, {}, {});
  const auto count = static_cast<uint32_t>(kBuckets * abi::kFlowWays * load);
  uint32_t displaced = 0;
  for (uint32_t i = 0; i < count; ++i) {
    abi::FlowKey key{};
    key.family = abi::AddressFamily::kIpv4;
    key.protocol = 6;
    std::memcpy(key.src, &i, sizeof i);
    uint64_t hash = abi::flow_hash(key, 0x5eed);
    if (one_choice) hash = (hash & ~(uint64_t{kBuckets - 1} << 28)) | ((hash & (kBuckets - 1)) << 28);
    displaced += table.insert(key, hash, FlowState::kTcpEstablished, 100).outcome != InsertOutcome::kFree;
  }
  return displaced;
}

TEST(FlowTableLoadTest, ASecondBucketDisplacesFarFewerFlowsAtHighLoad) {
  // Filling to 90%: a bucket per key overflows where its Poisson share exceeds 8 ways
  // (about 10% of the flows displaced); overflowing into a second bucket, about 4%.
  const uint32_t flows = static_cast<uint32_t>((1u << 15) * 0.9);
  const uint32_t one = displaced_at(0.9, true);
  const uint32_t two = displaced_at(0.9, false);
  EXPECT_GT(one, flows / 15) << "one bucket: " << one;
  EXPECT_LT(two, flows / 20) << "second bucket: " << two;
  EXPECT_LT(two * 2, one) << one << " vs " << two;
  EXPECT_LT(displaced_at(0.75, false) * 3, displaced_at(0.75, true));
}

}  // namespace
}  // namespace eclb::dp
