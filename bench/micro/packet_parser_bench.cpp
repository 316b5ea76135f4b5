// parse_packet cost per frame (dataplane/fastpath/packet_parser.h).
#include <benchmark/benchmark.h>

#include "dataplane/fastpath/packet_parser.h"
#include "tests/unit/support/packet_builder.h"

namespace eclb::dp {
namespace {

void BM_ParseIpv4Tcp(benchmark::State& state) {
  const auto frame = test::build_frame(test::FrameSpec{});
  PacketView view;
  for (auto _ : state) {
    view = PacketView{};
    benchmark::DoNotOptimize(parse_packet(frame.data(), static_cast<uint32_t>(frame.size()), view));
    benchmark::DoNotOptimize(view);
  }
}
BENCHMARK(BM_ParseIpv4Tcp);

void BM_ParseIpv6TcpVlan(benchmark::State& state) {
  test::FrameSpec spec;
  spec.src = "2001:db8::1";
  spec.dst = "2001:db8::100";
  spec.vlan = 7;
  const auto frame = test::build_frame(spec);
  PacketView view;
  for (auto _ : state) {
    view = PacketView{};
    benchmark::DoNotOptimize(parse_packet(frame.data(), static_cast<uint32_t>(frame.size()), view));
    benchmark::DoNotOptimize(view);
  }
}
BENCHMARK(BM_ParseIpv6TcpVlan);

void BM_FlowHashIpv4(benchmark::State& state) {
  const auto frame = test::build_frame(test::FrameSpec{});
  PacketView view;
  parse_packet(frame.data(), static_cast<uint32_t>(frame.size()), view);
  for (auto _ : state) {
    benchmark::DoNotOptimize(abi::flow_hash(view.key, 42));
    view.key.src_port_be++;
  }
}
BENCHMARK(BM_FlowHashIpv4);

}  // namespace
}  // namespace eclb::dp

BENCHMARK_MAIN();
