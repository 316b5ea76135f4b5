// Maglev table build and lookup cost (control/core/maglev_table.h). The build runs in
// eclb-control on every membership change; lookup is what the dataplane does per new
// flow (one modulo and one load).
#include <benchmark/benchmark.h>

#include <random>

#include "control/core/maglev_table.h"

namespace eclb::ctl {
namespace {

std::vector<MaglevBackend> backends(int count, bool weighted) {
  std::vector<MaglevBackend> out;
  for (int i = 0; i < count; ++i) {
    IpAddress address;
    address.family = abi::AddressFamily::kIpv4;
    address.bytes = {10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
    out.push_back({{address, 8080}, weighted ? static_cast<uint32_t>(1 + i % 10) : 1u});
  }
  return out;
}

void BM_MaglevBuild(benchmark::State& state) {
  const auto set = backends(static_cast<int>(state.range(0)), state.range(2) != 0);
  const auto size = static_cast<uint32_t>(state.range(1));
  const auto probe = state.range(3) != 0 ? MaglevTable::Probe::kAuto : MaglevTable::Probe::kScalar;
  for (auto _ : state) {
    auto table = MaglevTable::build(set, size, MaglevTable::Fill::kAuto, probe);
    benchmark::DoNotOptimize(table);
  }
  state.counters["slots"] = size;
}
BENCHMARK(BM_MaglevBuild)
    ->ArgNames({"N", "M", "weighted", "eight_lanes"})  // eight_lanes:0 forces the one-slot probe
    ->Args({10, 65537, 0, 1})
    ->Args({100, 65537, 0, 1})
    ->Args({1000, 65537, 0, 1})
    ->Args({1000, 65537, 0, 0})
    ->Args({1000, 65537, 1, 1})
    ->Args({1000, 1048573, 0, 1})
    ->Args({1000, 1048573, 0, 0})
    ->Args({1000, 1048573, 1, 1})
    ->Unit(benchmark::kMillisecond);

void BM_MaglevLookup(benchmark::State& state) {
  const auto size = static_cast<uint32_t>(state.range(0));
  const auto table = *MaglevTable::build(backends(1000, false), size);
  std::mt19937_64 random(1);
  std::vector<uint64_t> hashes(4096);
  for (auto& hash : hashes) hash = random();
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(table.lookup(hashes[i++ & 4095]));
  }
}
BENCHMARK(BM_MaglevLookup)->ArgName("M")->Arg(65537)->Arg(1048573);

}  // namespace
}  // namespace eclb::ctl

BENCHMARK_MAIN();
