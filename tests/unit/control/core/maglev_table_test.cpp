// MaglevTable: determinism (golden digests), balance, weights, disruption and errors.
#include "control/core/maglev_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <numeric>
#include <random>
#include <xxhash.h>

#include "control/core/maglev_digest.h"

namespace eclb::ctl {
namespace {

Endpoint endpoint(uint32_t i, uint16_t port = 8080) {
  IpAddress address;
  address.family = abi::AddressFamily::kIpv4;
  address.bytes[0] = 10;
  address.bytes[1] = static_cast<uint8_t>(i >> 16);
  address.bytes[2] = static_cast<uint8_t>(i >> 8);
  address.bytes[3] = static_cast<uint8_t>(i);
  return {address, port};
}

std::vector<MaglevBackend> backends(uint32_t count, uint32_t weight = 1) {
  std::vector<MaglevBackend> out;
  for (uint32_t i = 0; i < count; ++i) out.push_back({endpoint(i + 1), weight});
  return out;
}

std::vector<Endpoint> endpoints_of(const std::vector<MaglevBackend>& set) {
  std::vector<Endpoint> out;
  for (const auto& backend : set) out.push_back(backend.endpoint);
  return out;
}

MaglevTable build_or_die(const std::vector<MaglevBackend>& set, uint32_t size,
                         MaglevTable::Fill fill = MaglevTable::Fill::kAuto,
                         MaglevTable::Probe probe = MaglevTable::Probe::kAuto) {
  auto table = MaglevTable::build(set, size, fill, probe);
  EXPECT_TRUE(table.ok()) << table.error().message;
  return std::move(table).value();
}

// Identity owning each slot (so tables built from differently ordered inputs compare).
std::vector<Endpoint> owners(const MaglevTable& table, const std::vector<MaglevBackend>& set) {
  std::vector<Endpoint> out;
  out.reserve(table.size());
  for (const uint32_t slot : table.slots()) out.push_back(slot == abi::kNoBackend ? Endpoint{} : set[slot].endpoint);
  return out;
}

size_t moved_slots(const std::vector<Endpoint>& before, const std::vector<Endpoint>& after) {
  size_t moved = 0;
  for (size_t i = 0; i < before.size(); ++i) moved += before[i] != after[i];
  return moved;
}

// Golden digests (tests/fixtures/maglev/golden_digests.txt, also checked against the
// independent Python reference maglev_reference.py): any change to the hashes, seeds,
// key encoding, fill order or digest format changes them, and every balancer host
// would then need upgrading at once.
std::string golden(const std::string& name) {
  std::ifstream file(ECLB_SOURCE_DIR "/tests/fixtures/maglev/golden_digests.txt");
  std::string set, digest;
  while (file >> set >> digest) {
    if (set == name) return digest;
  }
  ADD_FAILURE() << "no golden digest named " << name;
  return {};
}

TEST(MaglevTableTest, GoldenDigestOfTenEqualBackends) {
  const auto set = backends(10);
  const MaglevTable table = build_or_die(set, 65537);
  EXPECT_EQ(maglev_digest(endpoints_of(set), table.slots()), golden("ten-equal"));
}

TEST(MaglevTableTest, GoldenDigestOfWeightedIpv6Backends) {
  std::vector<MaglevBackend> set;
  for (uint32_t i = 0; i < 5; ++i) {
    set.push_back({*Endpoint::parse(fmt::format("[2001:db8::{}]:443", i + 1)), i + 1});
  }
  const MaglevTable table = build_or_die(set, 251);
  EXPECT_EQ(maglev_digest(endpoints_of(set), table.slots()), golden("weighted-ipv6"));
}

// The straightforward population (scan every permutation from its pointer, equal or
// stride-scheduled turns), written from the paper without the builder's optimizations.
std::vector<uint32_t> naive_build(const std::vector<MaglevBackend>& set, uint32_t m) {
  struct P {
    MaglevKey key;
    uint32_t index, weight;
    uint64_t next, skip, turns = 0;
  };
  std::vector<P> perms;
  for (uint32_t i = 0; i < set.size(); ++i) {
    if (set[i].weight == 0) continue;
    const MaglevKey key = maglev_key(set[i].endpoint);
    perms.push_back({key, i, set[i].weight, XXH64(key.data(), key.size(), kMaglevOffsetSeed) % m,
                     XXH64(key.data(), key.size(), kMaglevSkipSeed) % (m - 1) + 1});
  }
  std::sort(perms.begin(), perms.end(), [](const P& a, const P& b) { return a.key < b.key; });
  std::vector<uint32_t> slots(m, abi::kNoBackend);
  for (uint32_t filled = 0; filled < m && !perms.empty(); ++filled) {
    size_t pick = 0;  // earliest (2k+1)/(2w), lowest identity on ties
    for (size_t j = 1; j < perms.size(); ++j) {
      const unsigned __int128 a = (unsigned __int128)(2 * perms[j].turns + 1) * perms[pick].weight;
      const unsigned __int128 b = (unsigned __int128)(2 * perms[pick].turns + 1) * perms[j].weight;
      if (a < b) pick = j;
    }
    P& p = perms[pick];
    while (slots[p.next] != abi::kNoBackend) p.next = (p.next + p.skip) % m;
    slots[p.next] = p.index;
    p.next = (p.next + p.skip) % m;
    ++p.turns;
  }
  return slots;
}

TEST(MaglevTableTest, MatchesTheNaivePopulationOnRandomSets) {
  std::mt19937 random(2024);
  for (int round = 0; round < 60; ++round) {
    const uint32_t m = std::array<uint32_t, 6>{2, 13, 251, 1009, 4093, 65537}[round % 6];
    std::vector<MaglevBackend> set;
    const uint32_t n = 1 + random() % std::min<uint32_t>(m, 60);
    // Odd rounds: equal weights, the round-order loop (fill_equal); even rounds: mixed.
    const bool equal = round % 2 == 1;
    for (uint32_t i = 0; i < n; ++i) {
      const auto weight = static_cast<uint32_t>(equal ? 2 : random() % 4 == 0 ? 0 : 1 + random() % 9);
      set.push_back({endpoint(static_cast<uint32_t>(random() % 100000)), weight});
    }
    std::sort(set.begin(), set.end(), [](auto& a, auto& b) { return a.endpoint < b.endpoint; });
    set.erase(std::unique(set.begin(), set.end(), [](auto& a, auto& b) { return a.endpoint == b.endpoint; }), set.end());
    std::shuffle(set.begin(), set.end(), random);
    const auto expected = naive_build(set, m);
    for (const auto probe : {MaglevTable::Probe::kAuto, MaglevTable::Probe::kScalar}) {
      const MaglevTable table = build_or_die(set, m, MaglevTable::Fill::kAuto, probe);
      ASSERT_TRUE(std::equal(expected.begin(), expected.end(), table.slots().begin()))
          << "round " << round << (probe == MaglevTable::Probe::kScalar ? " (scalar probe)" : "");
    }
  }
}

// The eight-lane probe (AVX2, where the CPU has it) and the one-slot probe claim the same
// slots at full size, equal and mixed weights, and near the maximum table size.
TEST(MaglevTableTest, EightLaneAndScalarProbesBuildTheSameTable) {
  ASSERT_TRUE(__builtin_cpu_supports("avx2")) << "this test compares the AVX2 probe with the scalar one";
  auto equal = backends(1000);
  auto mixed = backends(300);
  for (uint32_t i = 0; i < mixed.size(); ++i) mixed[i].weight = 1 + i % 7;
  for (const auto& [set, size] : {std::pair{equal, 65537u}, std::pair{mixed, 65537u}, std::pair{equal, 1048573u}}) {
    const MaglevTable eight = build_or_die(set, size);
    const MaglevTable scalar = build_or_die(set, size, MaglevTable::Fill::kAuto, MaglevTable::Probe::kScalar);
    EXPECT_TRUE(std::equal(eight.slots().begin(), eight.slots().end(), scalar.slots().begin())) << size;
  }
}

TEST(MaglevTableTest, TableDependsOnlyOnTheSetNotItsOrder) {
  auto set = backends(100);
  set[7].weight = 3;
  set[50].weight = 0;
  const MaglevTable first = build_or_die(set, 65537);
  std::mt19937 random(42);
  for (int round = 0; round < 5; ++round) {
    auto shuffled = set;
    std::shuffle(shuffled.begin(), shuffled.end(), random);
    const MaglevTable again = build_or_die(shuffled, 65537);
    EXPECT_EQ(owners(first, set), owners(again, shuffled));
    EXPECT_EQ(maglev_digest(endpoints_of(set), first.slots()),
              maglev_digest(endpoints_of(shuffled), again.slots()));
  }
}

TEST(MaglevTableTest, EqualWeightsGiveEveryBackendFloorOrCeilOfItsShare) {
  const auto set = backends(1000);
  const MaglevTable table = build_or_die(set, 65537);
  const auto counts = table.slot_counts(set.size());
  const auto [min, max] = std::minmax_element(counts.begin(), counts.end());
  const double ratio = static_cast<double>(*max) / *min;
  RecordProperty("max_over_min", std::to_string(ratio));
  std::printf("N=1000 M=65537: min %u max %u max/min %.4f\n", *min, *max, ratio);
  EXPECT_EQ(*min, 65u);
  EXPECT_EQ(*max, 66u);
  EXPECT_LE(ratio, 1.016);
  EXPECT_EQ(std::accumulate(counts.begin(), counts.end(), 0u), 65537u);
}

TEST(MaglevTableTest, WeightedSharesAreWithinOnePercentOfTheirTargets) {
  std::vector<MaglevBackend> set = backends(20);
  uint64_t total = 0;
  for (uint32_t i = 0; i < set.size(); ++i) {
    set[i].weight = 1 + (i * 7) % 13;  // 1..13, uneven
    total += set[i].weight;
  }
  const MaglevTable table = build_or_die(set, 65537);
  const auto counts = table.slot_counts(set.size());
  double worst = 0;
  for (uint32_t i = 0; i < set.size(); ++i) {
    const double target = static_cast<double>(set[i].weight) / total;
    const double share = static_cast<double>(counts[i]) / table.size();
    worst = std::max(worst, std::abs(share - target) / target);
  }
  std::printf("20 backends, weights 1-13, M=65537: worst relative share error %.4f%%\n", 100 * worst);
  EXPECT_LT(worst, 0.01);
}

TEST(MaglevTableTest, HeavyWeightSkewStillMeetsShares) {
  std::vector<MaglevBackend> set = backends(10);
  set[0].weight = 1000;
  const MaglevTable table = build_or_die(set, 65537);
  const auto counts = table.slot_counts(set.size());
  const double share0 = static_cast<double>(counts[0]) / 65537;
  EXPECT_NEAR(share0, 1000.0 / 1009.0, 0.01 * 1000.0 / 1009.0);
  for (uint32_t i = 1; i < set.size(); ++i) EXPECT_NEAR(counts[i], 65537.0 / 1009.0, 0.01 * 65537.0 / 1009.0 + 1);
}

TEST(MaglevTableTest, WeightedPathWithEqualWeightsMatchesThePaperLoop) {
  const auto set = backends(37, 5);
  const MaglevTable fast = build_or_die(set, 10007, MaglevTable::Fill::kAuto);
  const MaglevTable general = build_or_die(set, 10007, MaglevTable::Fill::kWeighted);
  EXPECT_TRUE(std::equal(fast.slots().begin(), fast.slots().end(), general.slots().begin()));
}

struct Disruption {
  double own_fraction;    // slots that belonged to the changed backend
  double total_fraction;  // every slot whose owner changed
};

Disruption removal_disruption(uint32_t n, uint32_t m, uint32_t removed) {
  const auto set = backends(n);
  auto smaller = set;
  smaller.erase(smaller.begin() + removed);
  const MaglevTable before = build_or_die(set, m);
  const MaglevTable after = build_or_die(smaller, m);
  const auto owners_before = owners(before, set);
  const auto owners_after = owners(after, smaller);
  size_t own = 0;
  for (const Endpoint& owner : owners_before) own += owner == set[removed].endpoint;
  for (size_t s = 0; s < owners_before.size(); ++s) {
    if (owners_before[s] == set[removed].endpoint) {
      EXPECT_NE(owners_after[s], set[removed].endpoint);
    }
  }
  return {static_cast<double>(own) / m, static_cast<double>(moved_slots(owners_before, owners_after)) / m};
}

TEST(MaglevTableTest, RemovingOneBackendMovesItsSlotsAndLittleElse) {
  double worst_total = 0;
  for (const uint32_t removed : {0u, 123u, 999u}) {
    const Disruption d = removal_disruption(1000, 65537, removed);
    std::printf("remove 1 of 1000 (M=65537): own %.3f%%, total moved %.3f%%, extra %.3f%%\n", 100 * d.own_fraction,
                100 * d.total_fraction, 100 * (d.total_fraction - d.own_fraction));
    worst_total = std::max(worst_total, d.total_fraction);
  }
  EXPECT_LT(worst_total, 0.01);
}

TEST(MaglevTableTest, AddingOneBackendTakesItsShareAndLittleElse) {
  const auto set = backends(1000);
  auto larger = set;
  larger.push_back({endpoint(5000), 1});
  const MaglevTable before = build_or_die(set, 65537);
  const MaglevTable after = build_or_die(larger, 65537);
  const auto owners_before = owners(before, set);
  const auto owners_after = owners(after, larger);
  size_t taken = 0;
  for (const Endpoint& owner : owners_after) taken += owner == larger.back().endpoint;
  const double total = static_cast<double>(moved_slots(owners_before, owners_after)) / 65537;
  std::printf("add 1 to 1000 (M=65537): new backend took %.3f%%, total moved %.3f%%\n", 100.0 * taken / 65537,
              100 * total);
  EXPECT_GE(taken, 65u);
  EXPECT_LT(total, 0.01);
}

TEST(MaglevTableTest, LargePrimeTableNearOneMillionSlots) {
  const auto set = backends(1000);
  const MaglevTable table = build_or_die(set, 1048573);
  const auto counts = table.slot_counts(set.size());
  const auto [min, max] = std::minmax_element(counts.begin(), counts.end());
  EXPECT_LE(*max - *min, 1u);
  EXPECT_EQ(table.size(), 1048573u);
}

TEST(MaglevTableTest, EmptySetAndAllZeroWeightsGiveAnEmptyTable) {
  const MaglevTable empty = build_or_die({}, 13);
  EXPECT_TRUE(std::all_of(empty.slots().begin(), empty.slots().end(),
                          [](uint32_t s) { return s == abi::kNoBackend; }));
  const MaglevTable zero = build_or_die(backends(3, 0), 13);
  EXPECT_TRUE(std::all_of(zero.slots().begin(), zero.slots().end(),
                          [](uint32_t s) { return s == abi::kNoBackend; }));
}

TEST(MaglevTableTest, SingleBackendOwnsEverySlot) {
  const MaglevTable table = build_or_die(backends(1), 65537);
  EXPECT_TRUE(std::all_of(table.slots().begin(), table.slots().end(), [](uint32_t s) { return s == 0; }));
}

TEST(MaglevTableTest, ZeroWeightBackendsOwnNoSlotsAndDoNotShiftOthers) {
  auto set = backends(10);
  const MaglevTable without = build_or_die(std::vector<MaglevBackend>(set.begin(), set.end() - 1), 1009);
  set.back().weight = 0;
  const MaglevTable with_zero = build_or_die(set, 1009);
  EXPECT_EQ(with_zero.slot_counts(set.size()).back(), 0u);
  EXPECT_TRUE(std::equal(without.slots().begin(), without.slots().end(), with_zero.slots().begin()));
}

TEST(MaglevTableTest, RejectsNonPrimeSizeDuplicatesAndOverfullTables) {
  auto not_prime = MaglevTable::build(backends(3), 65536);
  ASSERT_FALSE(not_prime.ok());
  EXPECT_EQ(not_prime.error().message, "table size 65536 is not prime");

  auto too_large = MaglevTable::build(backends(3), 16777259);  // prime above the maximum
  ASSERT_FALSE(too_large.ok());
  EXPECT_NE(too_large.error().message.find("exceeds the maximum"), std::string::npos);

  auto set = backends(3);
  set.push_back(set[1]);
  auto duplicate = MaglevTable::build(set, 13);
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.error().message, "duplicate backend 10.0.0.2:8080");

  auto overfull = MaglevTable::build(backends(20), 13);
  ASSERT_FALSE(overfull.ok());
  EXPECT_EQ(overfull.error().message, "20 weighted backends do not fit a table of 13 slots");
}

TEST(MaglevTableTest, SamePortDifferentAddressAndSameAddressDifferentPortAreDistinct) {
  std::vector<MaglevBackend> set{{endpoint(1, 80), 1}, {endpoint(1, 81), 1}, {endpoint(2, 80), 1}};
  const MaglevTable table = build_or_die(set, 1009);
  for (const uint32_t count : table.slot_counts(3)) EXPECT_GE(count, 336u);
}

}  // namespace
}  // namespace eclb::ctl
