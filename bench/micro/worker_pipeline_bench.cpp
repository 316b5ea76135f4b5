// The whole per-packet pipeline (Worker::process_burst) on bursts of 32 synthetic
// 64-byte TCP frames of established flows: parse, VIP match, flow hash, flow table
// lookup (1M live flows, random order), backend check, IPIP encapsulation, MAC rewrite,
// TX to a net_null port. Each iteration first restores the 32 frames (a 60-byte copy
// each; BM_RestoreBurstOnly measures that part alone). Cycles come from the TSC.
#include <benchmark/benchmark.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include <filesystem>
#include <numeric>
#include <optional>
#include <random>

#include "control/core/maglev_table.h"
#include "control/publish/table_writer.h"
#include "dataplane/fastpath/worker.h"
#include "tests/unit/support/packet_builder.h"

namespace eclb::dp {
namespace {

constexpr uint32_t kFlows = 1u << 20;
constexpr uint32_t kBuckets = 1u << 12;  // TEMP

struct Pipeline {
  rte_mempool* pool = nullptr;
  std::optional<ctl::TableWriter> writer;
  TableSnapshot snapshot;
  std::unique_ptr<NeighbourTable> neighbours;
  abi::FlowWorkerHeader* flow_header = nullptr;
  abi::LcoreStats* lcore = nullptr;
  std::vector<abi::VipStats> vips = std::vector<abi::VipStats>(8);
  std::vector<abi::BackendStats> backends = std::vector<abi::BackendStats>(64);
  WorkerPort port;
  std::unique_ptr<Worker> worker;
  std::vector<std::vector<uint8_t>> frames;  // one template per flow
  std::vector<uint32_t> order;
  rte_mbuf* burst[kBurstSize];
};

Pipeline* g_pipeline = nullptr;

void setup() {
  auto* p = new Pipeline();
  p->pool = rte_pktmbuf_pool_create("bench_pool", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  rte_eth_conf conf{};
  if (p->pool == nullptr || rte_eth_dev_configure(0, 1, 1, &conf) != 0 ||
      rte_eth_rx_queue_setup(0, 0, 512, 0, nullptr, p->pool) != 0 || rte_eth_tx_queue_setup(0, 0, 512, 0, nullptr) != 0 ||
      rte_eth_dev_start(0) != 0) {
    std::abort();
  }
  const std::string path = "/dev/shm/eclb-bench-tables-" + std::to_string(getpid());
  p->writer.emplace(std::move(*ctl::TableWriter::open({path, TableCapacity{8, 64, 8, 1u << 20}})));
  ctl::TableContent content;
  content.flow_hash_seed = 7;
  ctl::VipContent vip;
  vip.name = "web";
  vip.endpoint = *Endpoint::parse("10.0.0.100:80");
  vip.mode = abi::ForwardMode::kDsrIpip;
  std::vector<ctl::MaglevBackend> weighted;
  for (int i = 0; i < 16; ++i) {
    const Endpoint e = *Endpoint::parse("10.0.1." + std::to_string(i + 1) + ":80");
    vip.members.push_back({"gw" + std::to_string(i), e, 1, abi::BackendState::kUp});
    weighted.push_back({e, 1});
  }
  const auto table = ctl::MaglevTable::build(weighted, vip.table_size);
  vip.slots.assign(table->slots().begin(), table->slots().end());
  content.vips.push_back(vip);
  if (!p->writer->publish(content)) std::abort();
  p->snapshot = std::move(*TableSegment::attach(path, MappedFile::Access::kReadOnly)->snapshot());
  std::filesystem::remove(path);
  std::filesystem::remove(path + ".lock");

  p->neighbours = std::make_unique<NeighbourTable>(64);
  const uint8_t mac[6] = {2, 0, 0, 0, 1, 1};
  for (uint32_t id = 0; id < 64; ++id) p->neighbours->publish(id, mac);
  // Flow table and counters in hugepage memory, as in eclb-dataplane.
  const size_t flow_bytes = abi::flow_worker_bytes(kBuckets);
  auto* block = static_cast<std::byte*>(rte_zmalloc("flows", flow_bytes, 64));
  p->lcore = static_cast<abi::LcoreStats*>(rte_zmalloc("lcore", sizeof(abi::LcoreStats), 64));
  if (block == nullptr || p->lcore == nullptr) std::abort();
  p->flow_header = reinterpret_cast<abi::FlowWorkerHeader*>(block);
  auto* buckets = reinterpret_cast<abi::FlowBucket*>(block + sizeof(abi::FlowWorkerHeader));
  auto* entries = reinterpret_cast<abi::FlowEntry*>(block + sizeof(abi::FlowWorkerHeader) + kBuckets * sizeof(abi::FlowBucket));
  p->port.port_id = 0;
  p->port.mtu = 1500;
  p->port.has_ipv4 = 1;
  p->port.local_ipv4[0] = 10;
  p->port.local_ipv4[3] = 2;
  p->port.neighbours = p->neighbours.get();
  std::byte* nat_block = block + sizeof(abi::FlowWorkerHeader) + abi::flow_table_bytes(kBuckets);
  auto* nat_buckets = reinterpret_cast<abi::FlowBucket*>(nat_block);
  auto* nat_entries = reinterpret_cast<abi::FlowEntry*>(nat_block + kBuckets * sizeof(abi::FlowBucket));
  p->worker = std::make_unique<Worker>(FlowTable(&p->flow_header->entries, buckets, entries, kBuckets, FlowTimeouts{}, FlowGuardConfig{}),
                                       FlowTable(&p->flow_header->nat_entries, nat_buckets, nat_entries, kBuckets, FlowTimeouts{}, FlowGuardConfig{}),
                                       WorkerCounters{p->lcore, p->vips.data(), p->backends.data(), 8, 64},
                                       WorkerSettings{6080});
  p->worker->set_table(p->snapshot.view, p->snapshot.generation);
  p->worker->set_clock(1000);

  std::mt19937_64 random(3);
  p->frames.resize(kFlows);
  for (uint32_t i = 0; i < kFlows; ++i) {
    test::FrameSpec spec;
    const uint64_t r = random();
    spec.src = std::to_string(100 + (r & 0x7F)) + "." + std::to_string((r >> 8) & 0xFF) + "." +
               std::to_string((r >> 16) & 0xFF) + "." + std::to_string((r >> 24) & 0xFF);
    spec.src_port = static_cast<uint16_t>(1024 + (r >> 32) % 60000);
    spec.tcp_flags = 0x10;  // ACK: established
    p->frames[i] = test::build_frame(spec);
    p->frames[i].resize(60, 0);  // minimum Ethernet frame (padding trimmed by the pipeline)
  }
  p->order.resize(kFlows);
  std::iota(p->order.begin(), p->order.end(), 0u);
  std::shuffle(p->order.begin(), p->order.end(), random);
  for (uint32_t i = 0; i < kBurstSize; ++i) {
    p->burst[i] = rte_pktmbuf_alloc(p->pool);
    rte_mbuf_refcnt_set(p->burst[i], 1 + (1u << 14));  // the TX free only decrements: reused every burst
  }
  g_pipeline = p;
}

inline void restore(Pipeline& p, size_t& next, uint32_t flows) {
  for (uint32_t i = 0; i < kBurstSize; ++i) {
    rte_mbuf* m = p.burst[i];
    const auto& frame = p.frames[p.order[next++ % flows]];
    m->data_off = RTE_PKTMBUF_HEADROOM;
    m->data_len = m->pkt_len = static_cast<uint16_t>(frame.size());
    std::memcpy(rte_pktmbuf_mtod(m, void*), frame.data(), frame.size());
    if (rte_mbuf_refcnt_read(m) < 2) rte_mbuf_refcnt_set(m, 1 + (1u << 14));
  }
}

// state.range(0): distinct flows cycled through (1M: the flow table far exceeds the
// caches; 1K: everything is cached, which isolates the compute cost).
void BM_PipelineEstablished(benchmark::State& state) {
  Pipeline& p = *g_pipeline;
  const auto flows = static_cast<uint32_t>(state.range(0));
  size_t next = 0;
  // Warm-up: every flow once, so the table holds them as established flows.
  for (uint32_t i = 0; i < kFlows / kBurstSize; ++i) {
    restore(p, next, flows);
    p.worker->process_burst(p.port, p.burst, kBurstSize);
  }
  uint64_t cycles = 0;
  for (auto _ : state) {
    restore(p, next, flows);
    const uint64_t start = rte_rdtsc();
    p.worker->process_burst(p.port, p.burst, kBurstSize);
    cycles += rte_rdtsc() - start;
  }
  const double packets = static_cast<double>(state.iterations()) * kBurstSize;
  state.SetItemsProcessed(static_cast<int64_t>(packets));
  state.counters["pipeline_cycles/pkt"] = static_cast<double>(cycles) / packets;
  state.counters["pipeline_ns/pkt"] = static_cast<double>(cycles) / packets * 1e9 / static_cast<double>(rte_get_tsc_hz());
  state.counters["flows"] = static_cast<double>(p.flow_header->entries);
  state.counters["tx"] = static_cast<double>(p.lcore->tx_packets);
}
BENCHMARK(BM_PipelineEstablished)->ArgName("flows")->Arg(1024)->Arg(kFlows)->MinTime(2.0);

void BM_RestoreBurstOnly(benchmark::State& state) {
  Pipeline& p = *g_pipeline;
  size_t next = 0;
  for (auto _ : state) {
    restore(p, next, kFlows);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurstSize);
}
BENCHMARK(BM_RestoreBurstOnly);

}  // namespace
}  // namespace eclb::dp

int main(int argc, char** argv) {
  std::vector<std::string> args{"bench", "--in-memory", "--no-pci", "--log-level=error", "-l", "0", "--vdev=net_null0"};
  if (std::getenv("ECLB_BENCH_NO_HUGE") != nullptr) {  // for valgrind: instruction counts, not time
    args = {"bench", "--no-huge", "-m", "1024", "--no-shconf", "--no-pci", "--log-level=error", "-l", "0",
            "--vdev=net_null0"};
  }
  std::vector<char*> eal;
  for (auto& arg : args) eal.push_back(arg.data());
  if (rte_eal_init(static_cast<int>(eal.size()), eal.data()) < 0) {
    std::fprintf(stderr, "EAL init failed: run as root with 2 MB hugepages reserved (scripts/setup.sh)\n");
    return 1;
  }
  eclb::dp::setup();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
