// libFuzzer target over the per-packet pipeline: every input is one received frame. It
// is parsed from an exactly-sized heap copy (so AddressSanitizer sees any read past the
// frame), then run through Worker::process_burst with a real table (DSR IPv4 and IPv6
// VIPs) on a loopback ring port. The pipeline must never crash, hang or leak an mbuf.
// Built with clang (-Dfuzz=true); the test command runs it for a bounded time.
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "control/core/maglev_table.h"
#include "control/publish/table_writer.h"
#include "dataplane/fastpath/packet_parser.h"
#include "dataplane/fastpath/worker.h"

namespace {

struct Harness {
  rte_mempool* pool = nullptr;
  rte_ring* to_control = nullptr;
  std::optional<eclb::ctl::TableWriter> writer;
  eclb::TableSnapshot snapshot;
  std::vector<eclb::abi::FlowBucket> buckets = std::vector<eclb::abi::FlowBucket>(256);
  std::vector<eclb::abi::FlowEntry> entries = std::vector<eclb::abi::FlowEntry>(256 * eclb::abi::kFlowWays);
  std::vector<eclb::abi::FlowBucket> nat_buckets = std::vector<eclb::abi::FlowBucket>(256);
  std::vector<eclb::abi::FlowEntry> nat_entries = std::vector<eclb::abi::FlowEntry>(256 * eclb::abi::kFlowWays);
  eclb::abi::FlowWorkerHeader flow_header{};
  eclb::abi::LcoreStats lcore{};
  std::vector<eclb::abi::VipStats> vips = std::vector<eclb::abi::VipStats>(8);
  std::vector<eclb::abi::BackendStats> backends = std::vector<eclb::abi::BackendStats>(64);
  std::unique_ptr<eclb::dp::NeighbourTable> neighbours;
  eclb::dp::WorkerPort port;
  std::unique_ptr<eclb::dp::Worker> worker;
  uint32_t clock = 1000;
};

Harness* g_harness = nullptr;

eclb::ctl::VipContent vip(const char* name, const char* endpoint, eclb::abi::ForwardMode mode,
                          std::vector<std::string> members) {
  eclb::ctl::VipContent out;
  out.name = name;
  out.endpoint = *eclb::Endpoint::parse(endpoint);
  out.mode = mode;
  out.table_size = 251;
  std::vector<eclb::ctl::MaglevBackend> weighted;
  for (size_t i = 0; i < members.size(); ++i) {
    const auto member = *eclb::Endpoint::parse(members[i]);
    out.members.push_back({"m" + std::to_string(i), member, 1, eclb::abi::BackendState::kUp});
    weighted.push_back({member, 1});
  }
  const auto table = eclb::ctl::MaglevTable::build(weighted, 251);
  out.slots.assign(table->slots().begin(), table->slots().end());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::vector<std::string> args{"fuzz", "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--log-level=error",
                                "-l", "0", "--vdev=net_ring0"};
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) std::abort();
  auto* h = new Harness();
  h->pool = rte_pktmbuf_pool_create("fuzz_pool", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  h->to_control = rte_ring_create("fuzz_ctl", 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
  rte_eth_conf conf{};
  if (h->pool == nullptr || h->to_control == nullptr || rte_eth_dev_configure(0, 1, 1, &conf) != 0 ||
      rte_eth_rx_queue_setup(0, 0, 1024, 0, nullptr, h->pool) != 0 ||
      rte_eth_tx_queue_setup(0, 0, 1024, 0, nullptr) != 0 || rte_eth_dev_start(0) != 0) {
    std::abort();
  }
  const std::string path = (std::filesystem::temp_directory_path() / ("eclb-fuzz-" + std::to_string(getpid()))).string();
  auto writer = eclb::ctl::TableWriter::open({path, eclb::TableCapacity{8, 64, 8, 4096}});
  if (!writer) std::abort();
  h->writer.emplace(std::move(*writer));
  eclb::ctl::TableContent content;
  content.flow_hash_seed = 7;
  content.vips.push_back(vip("v4", "10.0.0.100:80", eclb::abi::ForwardMode::kDsrIpip, {"10.0.0.11:80", "10.0.0.12:80"}));
  content.vips.push_back(vip("v4u", "10.0.0.100:53", eclb::abi::ForwardMode::kDsrGue, {"10.0.0.11:53"}));
  content.vips[1].protocol = eclb::abi::L4Protocol::kUdp;
  content.vips.push_back(vip("v6", "[2001:db8::100]:80", eclb::abi::ForwardMode::kDsrGue, {"[2001:db8::11]:80"}));
  content.vips.push_back(vip("nat4", "10.0.0.101:80", eclb::abi::ForwardMode::kFullNat, {"10.0.0.13:8080", "10.0.0.14:8080"}));
  content.vips.push_back(vip("nat6", "[2001:db8::101]:80", eclb::abi::ForwardMode::kFullNat, {"[2001:db8::13]:8080"}));
  if (!h->writer->publish(content)) std::abort();
  auto segment = eclb::TableSegment::attach(path, eclb::MappedFile::Access::kReadOnly);
  auto snapshot = segment->snapshot();
  std::filesystem::remove(path);
  std::filesystem::remove(path + ".lock");
  if (!snapshot) std::abort();
  h->snapshot = std::move(*snapshot);
  h->neighbours = std::make_unique<eclb::dp::NeighbourTable>(64);
  const uint8_t mac[6] = {2, 0, 0, 0, 1, 1};
  for (uint32_t id = 0; id < 64; ++id) h->neighbours->publish(id, mac);
  h->port.port_id = 0;
  h->port.mtu = 1500;
  h->port.has_ipv4 = h->port.has_ipv6 = 1;
  h->port.local_ipv4[0] = 10;
  h->port.local_ipv4[3] = 2;
  h->port.local_ipv6[0] = 0x20;
  h->port.local_ipv6[15] = 2;
  h->port.neighbours = h->neighbours.get();
  h->port.to_control = h->to_control;
  std::memcpy(h->port.nat_ipv4[0], h->port.local_ipv4, 16);  // replies to 10.0.0.2 are fullnat replies
  std::memcpy(h->port.nat_ipv6[0], h->port.local_ipv6, 16);
  h->port.nat_ipv4_count = h->port.nat_ipv6_count = 1;
  h->port.nat_port_first = 40000;
  h->port.nat_port_last = 40063;
  eclb::dp::FlowTable flows(&h->flow_header.entries, h->buckets.data(), h->entries.data(), 256,
                            eclb::dp::FlowTimeouts{}, eclb::dp::FlowGuardConfig{});
  eclb::dp::FlowTable nat(&h->flow_header.nat_entries, h->nat_buckets.data(), h->nat_entries.data(), 256,
                          eclb::dp::FlowTimeouts{}, eclb::dp::FlowGuardConfig{});
  h->worker = std::make_unique<eclb::dp::Worker>(
      flows, nat, eclb::dp::WorkerCounters{&h->lcore, h->vips.data(), h->backends.data(), 8, 64},
      eclb::dp::WorkerSettings{6080, 1400});
  h->worker->set_table(h->snapshot.view, h->snapshot.generation);
  g_harness = h;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Harness& h = *g_harness;
  {
    std::unique_ptr<uint8_t[]> exact(new uint8_t[size == 0 ? 1 : size]);
    std::memcpy(exact.get(), data, size);
    eclb::dp::PacketView view;
    (void)eclb::dp::parse_packet(exact.get(), static_cast<uint32_t>(size), view);
  }
  if (size > 2000) return 0;  // one mbuf holds at most ~2 KiB of frame
  rte_mbuf* m = rte_pktmbuf_alloc(h.pool);
  if (m == nullptr) std::abort();  // a leak in the pipeline would show up here
  std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(size)), data, size);
  m->port = 0;
  h.worker->set_clock(h.clock += size % 3);  // time moves, so timeouts and the guard run too
  h.worker->process_burst(h.port, &m, 1);
  rte_mbuf* out[64];
  while (const uint16_t count = rte_eth_rx_burst(0, 0, out, 64)) rte_pktmbuf_free_bulk(out, count);
  void* queued = nullptr;
  while (rte_ring_dequeue(h.to_control, &queued) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(queued));
  return 0;
}
