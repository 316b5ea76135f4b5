// The whole per-packet pipeline (Worker::process_burst) on bursts of 32 synthetic
// 64-byte TCP frames: parse, VIP match, flow hash, flow table, Maglev pick, rewrite, TX
// to a net_null port. Each worker has the flow and NAT tables eclb-dataplane gives a
// worker by default (dataplane.flows_per_worker 2M entries, 262,144 buckets each, in
// hugepage memory), and the cases are:
//   - Established/1024 and /1048576: DSR (IPIP) packets of flows already in the table,
//     visited in a shuffled order (1M flows: the table far exceeds the caches; 1K: all
//     cached, which isolates the compute cost);
//   - Syn: a SYN flood, every packet a new flow from a source never seen before (the
//     table fills with half-open flows and then recycles them, as under a real flood);
//   - Fullnat/1048576: both directions of 1M established fullnat flows (client -> VIP
//     and the backend's replies to the local address), shuffled together.
// Before the timed part each burst is restored from templates (a 64-byte copy per
// frame; BM_RestoreBurstOnly measures that alone). Cycles come from the TSC around
// process_burst only.
#include <benchmark/benchmark.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
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
constexpr uint32_t kBuckets = 1u << 18;  // 2M entries: dataplane.flows_per_worker's default
constexpr size_t kFrameBytes = 64;       // template stride; frames are 60 bytes
const uint8_t kPortMac[6] = {0x02, 0, 0, 0, 0, 0x02};  // the test frames' destination

std::string address_of(uint64_t r) {
  return std::to_string(11 + (r & 0x3F)) + "." + std::to_string((r >> 8) & 0xFF) + "." +  // 11-74: no martians
         std::to_string((r >> 16) & 0xFF) + "." + std::to_string((r >> 24) & 0xFF);
}

// Tables shared by every case: a DSR VIP and a fullnat VIP over 16 gateways.
struct Tables {
  std::optional<ctl::TableWriter> writer;
  TableSnapshot snapshot;
  std::unique_ptr<NeighbourTable> neighbours;
};

Tables* g_tables = nullptr;

void build_tables() {
  auto* t = new Tables();
  const std::string path = "/dev/shm/eclb-bench-tables-" + std::to_string(getpid());
  t->writer.emplace(std::move(*ctl::TableWriter::open({path, TableCapacity{8, 64, 8, 1u << 20}})));
  ctl::TableContent content;
  content.flow_hash_seed = 7;
  for (const auto& [name, address, mode] : {std::tuple{"web", "10.0.0.100:80", abi::ForwardMode::kDsrIpip},
                                            std::tuple{"nat", "10.0.0.101:80", abi::ForwardMode::kFullNat}}) {
    ctl::VipContent vip;
    vip.name = name;
    vip.endpoint = *Endpoint::parse(address);
    vip.mode = mode;
    std::vector<ctl::MaglevBackend> weighted;
    for (int i = 0; i < 16; ++i) {
      const Endpoint e = *Endpoint::parse("10.0.1." + std::to_string(i + 1) + ":80");
      vip.members.push_back({"gw" + std::to_string(i), e, 1, abi::BackendState::kUp});
      weighted.push_back({e, 1});
    }
    const auto table = ctl::MaglevTable::build(weighted, vip.table_size);
    vip.slots.assign(table->slots().begin(), table->slots().end());
    content.vips.push_back(vip);
  }
  if (!t->writer->publish(content)) std::abort();
  t->snapshot = std::move(*TableSegment::attach(path, MappedFile::Access::kReadOnly)->snapshot());
  std::filesystem::remove(path);
  std::filesystem::remove(path + ".lock");
  t->neighbours = std::make_unique<NeighbourTable>(64);
  const uint8_t mac[6] = {2, 0, 0, 0, 1, 1};
  for (uint32_t id = 0; id < 64; ++id) t->neighbours->publish(id, mac);
  g_tables = t;
}

// One worker with its own flow and NAT tables and counters, as eclb-dataplane has.
struct Pipeline {
  std::byte* block = nullptr;
  abi::FlowWorkerHeader* flow_header = nullptr;
  abi::LcoreStats* lcore = nullptr;
  uint64_t* hints = nullptr;
  std::vector<abi::VipStats> vips = std::vector<abi::VipStats>(8);
  std::vector<abi::BackendStats> backends = std::vector<abi::BackendStats>(64);
  WorkerPort port;
  std::unique_ptr<Worker> worker;
  std::vector<uint8_t> frames;  // kFrameBytes per frame
  uint32_t frame_count = 0;
  std::vector<uint32_t> order;
  rte_mbuf* burst[kBurstSize];
  uint32_t now_s = 1000;
  uint64_t bursts = 0;  // every process_burst call, warm-up included (for instruction counts)

  Pipeline() {
    const size_t flow_bytes = abi::flow_worker_bytes(kBuckets);
    block = static_cast<std::byte*>(rte_zmalloc("flows", flow_bytes, 64));
    lcore = static_cast<abi::LcoreStats*>(rte_zmalloc("lcore", sizeof(abi::LcoreStats), 64));
    hints = static_cast<uint64_t*>(
        rte_zmalloc("hints", NatPortHints::kMaxAddresses * NatPortHints::kWordsPerAddress * 8, 64));
    if (block == nullptr || lcore == nullptr || hints == nullptr) std::abort();
    flow_header = reinterpret_cast<abi::FlowWorkerHeader*>(block);
    auto* buckets = reinterpret_cast<abi::FlowBucket*>(block + sizeof(abi::FlowWorkerHeader));
    auto* entries =
        reinterpret_cast<abi::FlowEntry*>(block + sizeof(abi::FlowWorkerHeader) + kBuckets * sizeof(abi::FlowBucket));
    std::byte* nat_block = block + sizeof(abi::FlowWorkerHeader) + abi::flow_table_bytes(kBuckets);
    auto* nat_buckets = reinterpret_cast<abi::FlowBucket*>(nat_block);
    auto* nat_entries = reinterpret_cast<abi::FlowEntry*>(nat_block + kBuckets * sizeof(abi::FlowBucket));
    port.port_id = 0;
    port.mtu = 1500;
    std::memcpy(port.mac, kPortMac, 6);
    port.has_ipv4 = 1;
    port.local_ipv4[0] = 10;
    port.local_ipv4[3] = 2;
    port.neighbours = g_tables->neighbours.get();
    port.nat_ipv4_count = 4;  // 4 x 64K local ports per gateway: room for 1M fullnat flows
    for (uint8_t i = 0; i < 4; ++i) {
      port.nat_ipv4[i][0] = 10;
      port.nat_ipv4[i][2] = 2;
      port.nat_ipv4[i][3] = static_cast<uint8_t>(i + 1);
    }
    worker = std::make_unique<Worker>(
        FlowTable(&flow_header->entries, buckets, entries, kBuckets, FlowTimeouts{}, FlowGuardConfig{}),
        FlowTable(&flow_header->nat_entries, nat_buckets, nat_entries, kBuckets, FlowTimeouts{}, FlowGuardConfig{}),
        WorkerCounters{lcore, vips.data(), backends.data(), 8, 64}, WorkerSettings{6080});
    worker->set_nat_hints(hints);
    worker->add_nat_addresses(port);
    worker->set_table(g_tables->snapshot.view, g_tables->snapshot.generation);
    worker->set_clock(now_s);
    for (uint32_t i = 0; i < kBurstSize; ++i) {
      burst[i] = rte_pktmbuf_alloc(pool());
      rte_mbuf_refcnt_set(burst[i], 1 + (1u << 14));  // the TX free only decrements: reused every burst
    }
  }
  ~Pipeline() {
    for (rte_mbuf* m : burst) {
      rte_mbuf_refcnt_set(m, 1);
      rte_pktmbuf_free(m);
    }
    rte_free(block);
    rte_free(lcore);
    rte_free(hints);
  }

  static rte_mempool* pool() {
    static rte_mempool* pool = rte_pktmbuf_pool_create("bench_pool", 4095, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    if (pool == nullptr) std::abort();
    return pool;
  }

  void add_frame(std::vector<uint8_t> frame) {
    frame.resize(60, 0);  // minimum Ethernet frame (padding trimmed by the pipeline)
    frames.resize(size_t{frame_count + 1} * kFrameBytes);
    std::memcpy(&frames[size_t{frame_count} * kFrameBytes], frame.data(), frame.size());
    ++frame_count;
  }
  void shuffle(uint32_t count, std::mt19937_64& random) {
    order.resize(count);
    std::iota(order.begin(), order.end(), 0u);
    std::shuffle(order.begin(), order.end(), random);
  }

  void restore_one(rte_mbuf* m, const uint8_t* frame) {
    m->data_off = RTE_PKTMBUF_HEADROOM;
    m->data_len = m->pkt_len = 60;
    std::memcpy(rte_pktmbuf_mtod(m, void*), frame, kFrameBytes);
    if (rte_mbuf_refcnt_read(m) < 2) rte_mbuf_refcnt_set(m, 1 + (1u << 14));
  }
  // The next burst from the shuffled templates, the first `flows` of them cycled.
  void restore(size_t& next, uint32_t flows) {
    for (uint32_t i = 0; i < kBurstSize; ++i) {
      restore_one(burst[i], &frames[size_t{order[next++ % flows]} * kFrameBytes]);
    }
  }
  void reset_counters() {
    lcore->rx_packets = lcore->tx_packets = 0;
    std::fill(std::begin(lcore->drops), std::end(lcore->drops), 0);
  }
  uint64_t run_burst() {
    ++bursts;
    const uint64_t start = rte_rdtsc();
    worker->process_burst(port, burst, kBurstSize);
    return rte_rdtsc() - start;
  }
};

std::vector<uint8_t> client_frame(const char* vip, uint64_t r, uint8_t flags) {
  test::FrameSpec spec;
  spec.src = address_of(r);
  spec.dst = vip;
  spec.src_port = static_cast<uint16_t>(1024 + (r >> 32) % 60000);
  spec.tcp_flags = flags;
  return test::build_frame(spec);
}

// One pipeline at a time (each holds ~300 MB of hugepages): the case's own, built on
// its first use and kept while Google Benchmark calls the case again.
std::unique_ptr<Pipeline> g_pipeline;
std::string g_pipeline_case;

Pipeline& pipeline_for(const std::string& name, void (*build)(Pipeline&)) {
  if (g_pipeline_case != name) {
    g_pipeline.reset();
    g_pipeline = std::make_unique<Pipeline>();
    build(*g_pipeline);
    g_pipeline_case = name;
  }
  return *g_pipeline;
}

void report(benchmark::State& state, const Pipeline& p, uint64_t cycles) {
  const double packets = static_cast<double>(state.iterations()) * kBurstSize;
  state.SetItemsProcessed(static_cast<int64_t>(packets));
  state.counters["pipeline_cycles/pkt"] = static_cast<double>(cycles) / packets;
  state.counters["pipeline_ns/pkt"] = static_cast<double>(cycles) / packets * 1e9 / static_cast<double>(rte_get_tsc_hz());
  state.counters["flows"] = static_cast<double>(p.flow_header->entries);
  state.counters["bursts_total"] = static_cast<double>(p.bursts);
  state.counters["nat_entries"] = static_cast<double>(p.flow_header->nat_entries);
  uint64_t drops = 0;
  std::string reasons;
  for (uint32_t r = 0; r < std::size(p.lcore->drops); ++r) {
    drops += p.lcore->drops[r];
    if (p.lcore->drops[r] != 0) reasons += " " + std::to_string(r) + ":" + std::to_string(p.lcore->drops[r]);
  }
  // Every packet must have been forwarded: a case that measures drops measures nothing.
  if (drops != 0 || p.lcore->tx_packets != p.lcore->rx_packets) {
    state.SkipWithError(("dropped " + std::to_string(drops) + " of " + std::to_string(p.lcore->rx_packets) + " (reason:count" +
                         reasons + ")").c_str());
  }
}

// ECLB_BENCH_FLOWS: fewer flows for the established case (valgrind runs the 1K case).
uint32_t established_flows() {
  const char* flows = std::getenv("ECLB_BENCH_FLOWS");
  return flows != nullptr ? std::max<uint32_t>(kBurstSize, static_cast<uint32_t>(std::atoi(flows))) : kFlows;
}

void build_established(Pipeline& p) {
  std::mt19937_64 random(3);
  const uint32_t flows = established_flows();
  for (uint32_t i = 0; i < flows; ++i) p.add_frame(client_frame("10.0.0.100", random(), kTcpAck));
  p.shuffle(flows, random);
  size_t next = 0;
  for (uint32_t i = 0; i < flows / kBurstSize; ++i) {  // every flow once: all in the table
    p.restore(next, flows);
    p.run_burst();
  }
}

void BM_PipelineEstablished(benchmark::State& state) {
  Pipeline& p = pipeline_for("established", build_established);
  const auto flows = std::min(static_cast<uint32_t>(state.range(0)), p.frame_count);
  size_t next = 0;
  p.restore(next, flows);  // the first `flows` of the shuffled order, cycled
  next = 0;
  uint64_t cycles = 0;
  p.reset_counters();
  for (auto _ : state) {
    p.restore(next, flows);
    cycles += p.run_burst();
  }
  report(state, p, cycles);
}
BENCHMARK(BM_PipelineEstablished)->ArgName("flows")->Arg(1024)->Arg(kFlows)->MinTime(2.0);

void build_syn(Pipeline& p) { p.add_frame(client_frame("10.0.0.100", 0, kTcpSyn)); }

// A SYN from a source never seen: the template with its source address and port
// replaced (a bijection of a counter, scattered over 100.0.0.0/8 and 40,000 ports) and
// the IPv4 header checksum redone.
void restore_syn(Pipeline& p, uint64_t& counter) {
  for (uint32_t i = 0; i < kBurstSize; ++i) {
    rte_mbuf* m = p.burst[i];
    p.restore_one(m, p.frames.data());
    uint8_t* ip = rte_pktmbuf_mtod_offset(m, uint8_t*, 14);
    const uint64_t n = (counter++ * 0x9E3779B97F4A7C15ull) >> 20;
    const uint32_t source = rte_cpu_to_be_32(0x64000000u | static_cast<uint32_t>(n & 0xFFFFFF));
    const uint16_t port = rte_cpu_to_be_16(static_cast<uint16_t>(1024 + (n >> 24) % 40000));
    std::memcpy(ip + 12, &source, 4);
    std::memcpy(ip + 20, &port, 2);
    ip[10] = ip[11] = 0;
    const uint16_t checksum = rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr*>(ip));
    std::memcpy(ip + 10, &checksum, 2);
  }
}

void BM_PipelineSyn(benchmark::State& state) {
  Pipeline& p = pipeline_for("syn", build_syn);
  static uint64_t counter = 0;
  uint64_t cycles = 0;
  p.reset_counters();
  for (auto _ : state) {
    restore_syn(p, counter);
    cycles += p.run_burst();
  }
  report(state, p, cycles);
  state.counters["guard_skips"] = static_cast<double>(p.lcore->flow_guard_skips);
}
BENCHMARK(BM_PipelineSyn)->MinTime(2.0);

uint32_t g_fullnat_flows = 0;

void build_fullnat(Pipeline& p) {
  std::mt19937_64 random(5);
  for (uint32_t i = 0; i < kFlows; ++i) p.add_frame(client_frame("10.0.0.101", random(), kTcpAck));
  // Open every flow (its local port and NAT entry made), then write each one's reply as
  // its backend sends it: from the backend to the local address and port it was given.
  p.shuffle(kFlows, random);
  size_t next = 0;
  for (uint32_t i = 0; i < kFlows / kBurstSize; ++i) {
    p.restore(next, kFlows);
    p.run_burst();
  }
  // At half the table's capacity a few hundred flows find both their buckets full of
  // established flows and displace one (flow_evictions_established), in the flow or the
  // NAT table: only flows that hold both entries are kept, so the timed part measures established flows, not churn.
  const TableView& view = g_tables->snapshot.view;
  std::vector<uint8_t> forward = std::move(p.frames);
  const uint32_t opened_before = p.frame_count;
  p.frames.clear();
  p.frame_count = 0;
  std::vector<std::vector<uint8_t>> replies;
  for (uint32_t i = 0; i < opened_before; ++i) {
    const uint8_t* frame = &forward[size_t{i} * kFrameBytes];
    PacketView parsed;
    (void)parse_packet(frame, 60, parsed);
    const abi::FlowEntry* entry =
        p.worker->flows().peek(parsed.key, abi::flow_hash(parsed.key, view.flow_hash_seed()), p.now_s);
    if (entry == nullptr || entry->nat_port_be == 0) continue;
    const abi::BackendEntry* backend = view.backend_with_id(entry->backend_id);
    char source[16], local[16];
    inet_ntop(AF_INET, backend->address, source, sizeof source);
    inet_ntop(AF_INET, p.port.nat_ipv4[entry->nat_address], local, sizeof local);
    test::FrameSpec spec;
    spec.src = source;
    spec.dst = local;
    spec.src_port = backend->port;
    spec.dst_port = rte_be_to_cpu_16(entry->nat_port_be);
    spec.tcp_flags = kTcpAck;
    std::vector<uint8_t> reply = test::build_frame(spec);
    PacketView reply_view;
    (void)parse_packet(reply.data(), static_cast<uint32_t>(reply.size()), reply_view);
    if (p.worker->nat().peek(reply_view.key, abi::flow_hash(reply_view.key, view.flow_hash_seed()), p.now_s) == nullptr) {
      continue;  // its NAT entry displaced (the NAT table is as full)
    }
    p.add_frame(std::vector<uint8_t>(frame, frame + 60));
    replies.push_back(std::move(reply));
  }
  for (auto& reply : replies) p.add_frame(std::move(reply));
  g_fullnat_flows = static_cast<uint32_t>(replies.size());
  p.shuffle(p.frame_count, random);
}

void BM_PipelineFullnat(benchmark::State& state) {
  Pipeline& p = pipeline_for("fullnat", build_fullnat);
  size_t next = 0;
  uint64_t cycles = 0;
  p.reset_counters();
  for (auto _ : state) {
    p.restore(next, 2 * g_fullnat_flows);
    cycles += p.run_burst();
  }
  report(state, p, cycles);
  state.counters["nat_replies"] = static_cast<double>(p.lcore->nat_replies);
  state.counters["fullnat_flows"] = static_cast<double>(g_fullnat_flows);
}
BENCHMARK(BM_PipelineFullnat)->ArgName("flows")->Arg(kFlows)->MinTime(2.0);

void BM_RestoreBurstOnly(benchmark::State& state) {
  Pipeline& p = pipeline_for("established", build_established);
  size_t next = 0;
  for (auto _ : state) {
    p.restore(next, p.frame_count);
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
    args = {"bench", "--no-huge", "-m", "2048", "--no-shconf", "--no-pci", "--log-level=error", "-l", "0",
            "--vdev=net_null0"};
  }
  std::vector<char*> eal;
  for (auto& arg : args) eal.push_back(arg.data());
  if (rte_eal_init(static_cast<int>(eal.size()), eal.data()) < 0) {
    std::fprintf(stderr, "EAL init failed: run as root with 2 MB hugepages reserved (scripts/setup.sh)\n");
    return 1;
  }
  rte_eth_conf conf{};
  if (rte_eth_dev_configure(0, 1, 1, &conf) != 0 ||
      rte_eth_rx_queue_setup(0, 0, 512, 0, nullptr, eclb::dp::Pipeline::pool()) != 0 ||
      rte_eth_tx_queue_setup(0, 0, 512, 0, nullptr) != 0 || rte_eth_dev_start(0) != 0) {
    std::fprintf(stderr, "net_null port setup failed\n");
    return 1;
  }
  eclb::dp::build_tables();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  eclb::dp::g_pipeline.reset();
  return 0;
}
