// FlowTable lookup and insert cost with 1M live flows in a 1M-entry table (8-way, 128K
// buckets, 72 MiB): random-order lookups miss the CPU caches, as on a busy balancer.
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <x86intrin.h>

#include <numeric>
#include <random>
#include <vector>

#include "dataplane/fastpath/flow_table.h"

namespace eclb::dp {
namespace {

constexpr uint32_t kBuckets = 1u << 17;
constexpr uint32_t kFlows = 1u << 20;

struct Fixture {
  abi::FlowWorkerHeader header{};
  abi::FlowBucket* buckets;
  abi::FlowEntry* entries;
  FlowTable table;
  std::vector<abi::FlowKey> keys;
  std::vector<uint64_t> hashes;
  std::vector<uint32_t> order;

  Fixture() {
    // Transparent huge pages where available: TLB reach matters at this size.
    const size_t bucket_bytes = kBuckets * sizeof(abi::FlowBucket);
    const size_t entry_bytes = size_t{kBuckets} * abi::kFlowWays * sizeof(abi::FlowEntry);
    buckets = static_cast<abi::FlowBucket*>(aligned_alloc(1 << 21, bucket_bytes));
    entries = static_cast<abi::FlowEntry*>(aligned_alloc(1 << 21, entry_bytes));
    madvise(buckets, bucket_bytes, MADV_HUGEPAGE);
    madvise(entries, entry_bytes, MADV_HUGEPAGE);
    std::memset(buckets, 0, bucket_bytes);
    std::memset(entries, 0, entry_bytes);
    table = FlowTable(&header.entries, buckets, entries, kBuckets, FlowTimeouts{}, FlowGuardConfig{});
    std::mt19937_64 random(1);
    keys.resize(kFlows);
    hashes.resize(kFlows);
    for (uint32_t i = 0; i < kFlows; ++i) {
      abi::FlowKey& key = keys[i];
      key = {};
      key.family = abi::AddressFamily::kIpv4;
      key.protocol = 6;
      const uint64_t r = random();
      std::memcpy(key.src, &r, 4);
      key.src_port_be = static_cast<uint16_t>(r >> 32);
      key.dst[0] = 10;
      key.dst_port_be = 0x5000;
      hashes[i] = abi::flow_hash(key, 7);
      table.insert(key, hashes[i], abi::FlowState::kTcpEstablished, 100);
    }
    order.resize(kFlows);
    std::iota(order.begin(), order.end(), 0u);
    std::shuffle(order.begin(), order.end(), random);
  }
  ~Fixture() {
    free(buckets);
    free(entries);
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void BM_FlowFindHit(benchmark::State& state) {
  Fixture& f = fixture();
  size_t i = 0;
  for (auto _ : state) {
    const uint32_t k = f.order[i++ & (kFlows - 1)];
    benchmark::DoNotOptimize(f.table.find(f.keys[k], f.hashes[k], 0x10, 101));
  }
  state.counters["load"] = static_cast<double>(f.table.entries()) / (kBuckets * abi::kFlowWays);
}
BENCHMARK(BM_FlowFindHit);

// The worker's pattern: hash and prefetch a burst of 32, then look them all up.
void BM_FlowFindHitPrefetchedBurst(benchmark::State& state) {
  Fixture& f = fixture();
  size_t i = 0;
  for (auto _ : state) {
    uint32_t burst[32];
    for (auto& k : burst) {
      k = f.order[i++ & (kFlows - 1)];
      f.table.prefetch(f.hashes[k]);
    }
    for (const uint32_t k : burst) benchmark::DoNotOptimize(f.table.find(f.keys[k], f.hashes[k], 0x10, 101));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 32);
}
BENCHMARK(BM_FlowFindHitPrefetchedBurst);

// The worker's full pattern: keys and hashes at hand (as in the parsed burst), bucket
// lines prefetched, then entry lines once the bucket lines are in, then the lookups.
void BM_FlowFindHitTwoStagePrefetch(benchmark::State& state) {
  Fixture& f = fixture();
  size_t i = 0;
  abi::FlowKey keys[32];
  uint64_t hashes[32];
  uint64_t cycles = 0;
  for (auto _ : state) {
    for (int b = 0; b < 32; ++b) {
      const uint32_t k = f.order[i++ & (kFlows - 1)];
      keys[b] = f.keys[k];
      hashes[b] = f.hashes[k];
    }
    const uint64_t start = __rdtsc();
    for (int b = 0; b < 32; ++b) f.table.prefetch(hashes[b]);
    for (int b = 0; b < 32; ++b) f.table.prefetch_entry(hashes[b]);
    for (int b = 0; b < 32; ++b) benchmark::DoNotOptimize(f.table.find(keys[b], hashes[b], 0x10, 101));
    cycles += __rdtsc() - start;
  }
  state.counters["lookup_cycles"] = static_cast<double>(cycles) / (static_cast<double>(state.iterations()) * 32);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 32);
}
BENCHMARK(BM_FlowFindHitTwoStagePrefetch);

void BM_FlowFindMiss(benchmark::State& state) {
  Fixture& f = fixture();
  abi::FlowKey key = f.keys[0];
  key.dst[1] = 99;  // never inserted
  uint64_t hash = 1;
  for (auto _ : state) {
    hash = hash * 6364136223846793005ULL + 1442695040888963407ULL;
    benchmark::DoNotOptimize(f.table.find(key, hash, 0x02, 101));
  }
}
BENCHMARK(BM_FlowFindMiss);

}  // namespace
}  // namespace eclb::dp

BENCHMARK_MAIN();
