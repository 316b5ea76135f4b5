// eclb-dataplane startup, control loop and shutdown.
#include "dataplane/runtime/dataplane.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <new>
#include <thread>

#include "common/log.h"
#include "common/service_notify.h"
#include "common/shared_atomic.h"
#include "dataplane/runtime/af_xdp_takeover.h"

namespace eclb::dp {
namespace {

// Lock files of the interfaces this dataplane owns (af_xdp_takeover.h).
constexpr const char* kRunDirectory = "/run/eclb";

uint64_t monotonic_ms() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

// Attaches the table region, waiting (and saying so once) while it does not exist.
Result<std::optional<TableSegment>> wait_for_tables(const std::string& path, const std::atomic<bool>& stop) {
  bool said = false;
  while (!stop.load()) {
    auto segment = TableSegment::attach(path, MappedFile::Access::kReadWrite);
    if (segment) return std::optional<TableSegment>(std::move(*segment));
    if (errno != ENOENT || segment.error().message.find("No such file") == std::string::npos) {
      return std::move(segment).error();
    }
    if (!said) {
      log::info("dp.runtime", "waiting for the table region path=\"{}\" (is eclb-control running?)", path);
      service::notify_status(fmt::format("waiting for the table region {} (is eclb-control running?)", path));
      said = true;
    }
    // Waiting is this process working as meant: keep systemd's watchdog fed meanwhile.
    service::notify_watchdog();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return std::optional<TableSegment>();
}

void copy_prefix_address(const std::optional<IpPrefix>& prefix, uint8_t* out, uint8_t& present) {
  present = prefix.has_value();
  if (prefix) std::memcpy(out, prefix->address.bytes.data(), 16);
}

// The fullnat source addresses of a port: the configured pool, or the port's own address.
std::vector<IpAddress> nat_pool(const DataplanePortConfig& config, bool ipv6) {
  std::vector<IpAddress> pool = ipv6 ? config.nat_ipv6 : config.nat_ipv4;
  const auto& own = ipv6 ? config.ipv6 : config.ipv4;
  if (pool.empty() && own) pool.push_back(own->address);
  return pool;
}

void configure_nat(WorkerPort& port, const DataplanePortConfig& config) {
  for (bool ipv6 : {false, true}) {
    const auto pool = nat_pool(config, ipv6);
    for (size_t i = 0; i < pool.size() && i < kMaxNatAddresses; ++i) {
      std::memcpy(ipv6 ? port.nat_ipv6[i] : port.nat_ipv4[i], pool[i].bytes.data(), 16);
    }
    (ipv6 ? port.nat_ipv6_count : port.nat_ipv4_count) = static_cast<uint8_t>(std::min<size_t>(pool.size(), kMaxNatAddresses));
  }
  port.nat_port_first = config.nat_port_first;
  port.nat_port_last = config.nat_port_last;
}

}  // namespace

Result<std::unique_ptr<Dataplane>> Dataplane::start(const DataplaneOptions& options, const std::atomic<bool>& stop) {
  std::unique_ptr<Dataplane> dp(new Dataplane());
  dp->options_ = options;
  const DataplaneConfig& config = options.dataplane;

  unsigned lcore = 0;
  RTE_LCORE_FOREACH_WORKER(lcore) { dp->worker_lcores_.push_back(lcore); }
  if (dp->worker_lcores_.empty()) {
    return make_error("no worker lcore: give the EAL at least two cores (-l 0,1), the first runs the control loop");
  }
  const auto workers = static_cast<uint16_t>(dp->worker_lcores_.size());

  auto segment = wait_for_tables(options.segment, stop);
  if (!segment) return std::move(segment).error();
  if (!segment->has_value()) return std::unique_ptr<Dataplane>();
  dp->segment_ = std::move(**segment);
  const TableCapacity& capacity = dp->segment_->layout().capacity;
  if (capacity.max_readers < workers + 1u) {
    return make_error("table region has {} reader slots, {} workers and the control lcore need {}",
                      capacity.max_readers, workers, workers + 1);
  }

  auto control_reader = TableReader::claim(*dp->segment_, "dp-control");
  if (!control_reader) return std::move(control_reader).error();
  dp->control_reader_ = std::make_unique<TableReader>(std::move(*control_reader));
  dp->control_reader_->refresh();

  auto stats = StatsRegion::create(config.stats_path, workers, capacity.max_vips, capacity.max_backends,
                                   static_cast<uint32_t>(config.ports.size()));
  if (!stats) return std::move(stats).error();
  dp->stats_ = std::move(*stats);
  auto flows = FlowRegion::open(config.flows_path, workers, config.flows_per_worker);
  if (!flows) return std::move(flows).error();
  dp->flows_ = std::move(*flows);
  log::info("dp.runtime", "flow region path=\"{}\" {} workers={} buckets_per_worker={} entries={}", config.flows_path,
            dp->flows_->adopted() ? "adopted" : "created", workers, dp->flows_->header().bucket_count,
            dp->flows_->entries());

  const unsigned mbufs = std::max<unsigned>(
      8191, static_cast<unsigned>(config.ports.size()) * workers * (kRxDescriptors + kTxDescriptors) + workers * 1024 + 4096);
  dp->pool_ = rte_pktmbuf_pool_create("eclb_mbufs", mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
  if (dp->pool_ == nullptr) {
    return make_error("cannot allocate {} mbufs: {} (hugepages reserved?)", mbufs, rte_strerror(rte_errno));
  }
  for (const DataplanePortConfig& port_config : config.ports) {
    // An af_xdp interface left with our steering program by a killed run is taken over
    // before the PMD attaches its own (it refuses while one is attached).
    rte_eth_dev_info info{};
    std::optional<AfXdpInterface> interface;
    if (rte_eth_dev_is_valid_port(port_config.id) && rte_eth_dev_info_get(port_config.id, &info) == 0 &&
        std::strcmp(info.driver_name, "net_af_xdp") == 0) {
      auto taken = AfXdpInterface::take_over(info.if_index, kRunDirectory);
      if (!taken) return std::move(taken).context(fmt::format("port {}", port_config.id));
      interface.emplace(std::move(*taken));
    }
    auto port = setup_port(port_config.id, workers, dp->pool_);
    if (!port) return std::move(port).error();
    if (interface) {
      // The PMD attached its program: steer with it at once (its maps start empty), then
      // drop the takeover guard.
      auto steering = dp->start_steering(*port, port_config);
      if (!steering) return std::move(steering).error();
      interface->steering_ready();
      dp->af_xdp_ports_.push_back({port->port_id, std::move(*interface), std::move(*steering)});
    }
    if (port_config.mtu != 0) port->mtu = port_config.mtu;
    log::info("dp.runtime", "port={} driver={} queues={} mtu={} mac={:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
              port->port_id, port->driver, port->queues, port->mtu, port->mac[0], port->mac[1], port->mac[2],
              port->mac[3], port->mac[4], port->mac[5]);
    if (workers > 1 && !port->rss) {
      log::warn("dp.runtime", "port={} driver={} has no RSS: the sender decides which worker sees a flow",
                port->port_id, port->driver);
    }
    dp->port_counters_.add(port->port_id, port->driver, port->if_index,
                           dp->stats_->port(static_cast<uint32_t>(dp->ports_.size())));
    dp->ports_.push_back(*port);
    dp->neighbours_.push_back(std::make_unique<NeighbourTable>(capacity.max_backends));
    if (port_config.exception_port) {
      if (auto ready = setup_exception_port(*port_config.exception_port, workers + 1, dp->pool_, port->mac); !ready) {
        return std::move(ready).error();
      }
      dp->exceptions_.push_back({port->port_id, *port_config.exception_port, workers});
      log::info("dp.runtime", "port={} exception_port={}: traffic the dataplane does not serve goes to the kernel",
                port->port_id, *port_config.exception_port);
    }
  }

  for (uint16_t w = 0; w < workers; ++w) {
    const std::string name = fmt::format("eclb_to_ctl_{}", w);
    rte_ring* ring = rte_ring_create(name.c_str(), 1024, rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (ring == nullptr) return make_error("cannot create ring {}: {}", name, rte_strerror(rte_errno));
    dp->to_control_.push_back(ring);
  }
  dp->from_control_ = rte_ring_create("eclb_from_ctl", 1024, rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
  if (dp->from_control_ == nullptr) return make_error("cannot create ring: {}", rte_strerror(rte_errno));

  std::vector<SlowPathPort> slow_ports;
  for (size_t p = 0; p < dp->ports_.size(); ++p) {
    const DataplanePortConfig& port_config = config.ports[p];
    SlowPathPort slow;
    slow.port_id = dp->ports_[p].port_id;
    std::memcpy(slow.mac, dp->ports_[p].mac, 6);
    slow.ipv4 = port_config.ipv4;
    slow.ipv6 = port_config.ipv6;
    slow.gateway_ipv4 = port_config.gateway_ipv4;
    slow.gateway_ipv6 = port_config.gateway_ipv6;
    slow.neighbours = dp->neighbours_[p].get();
    slow.static_neighbours = port_config.static_neighbours;
    slow.has_exception = port_config.exception_port.has_value();
    slow.nat_addresses = nat_pool(port_config, false);
    for (const IpAddress& address : nat_pool(port_config, true)) slow.nat_addresses.push_back(address);
    slow_ports.push_back(slow);
  }
  dp->slow_path_ = std::make_unique<SlowPath>(std::move(slow_ports), dp->pool_, dp->flows_->neighbours(), monotonic_ms());
  if (dp->slow_path_->adopted_neighbours() != 0) {
    log::info("dp.runtime", "neighbours adopted={} (resolved by the previous run: forwarded to from the first packet)",
              dp->slow_path_->adopted_neighbours());
  }
  dp->link_up_ = std::make_unique<std::atomic<uint8_t>[]>(dp->ports_.size());
  dp->refresh_links(false);

  const FlowTimeouts timeouts{config.timeout_tcp_syn_s, config.timeout_tcp_established_s, config.timeout_tcp_closing_s,
                              config.timeout_tcp_closed_s, config.timeout_udp_s};
  const FlowGuardConfig guard{config.guard_rate, config.guard_burst};
  const MonotonicClock clock = MonotonicClock::start();
  for (uint16_t w = 0; w < workers; ++w) {
    auto reader = TableReader::claim(*dp->segment_, fmt::format("dp-worker-{}", w));
    if (!reader) return std::move(reader).error();
    dp->readers_.push_back(std::make_unique<TableReader>(std::move(*reader)));
    const int socket = static_cast<int>(rte_lcore_to_socket_id(dp->worker_lcores_[w]));
    void* memory = rte_zmalloc_socket(fmt::format("eclb_worker_{}", w).c_str(), sizeof(Worker), RTE_CACHE_LINE_SIZE, socket);
    if (memory == nullptr) return make_error("cannot allocate {} bytes for worker {} on NUMA node {}", sizeof(Worker), w, socket);
    dp->workers_.emplace_back(new (memory) Worker(
        dp->flows_->table_for(w, false, timeouts, guard), dp->flows_->table_for(w, true, timeouts, guard),
        dp->stats_->counters_for(w), WorkerSettings{config.gue_port, config.tcp_mss_clamp, config.gue_ipv6_zero_checksum}));
    auto launch = std::make_unique<WorkerLaunch>();
    launch->worker = dp->workers_.back().get();
    launch->reader = dp->readers_.back().get();
    launch->layout = &dp->segment_->layout();
    launch->from_control = w == 0 ? dp->from_control_ : nullptr;
    launch->stop = &dp->workers_stop_;
    launch->clock = clock;
    launch->link_up = dp->link_up_.get();
    launch->idle_sleep_us = config.idle_sleep_us;
    for (size_t p = 0; p < dp->ports_.size(); ++p) {
      const DataplanePortConfig& port_config = config.ports[p];
      WorkerPort port;
      port.port_id = dp->ports_[p].port_id;
      port.queue_id = w;
      port.mtu = dp->ports_[p].mtu;
      std::memcpy(port.mac, dp->ports_[p].mac, 6);
      copy_prefix_address(port_config.ipv4, port.local_ipv4, port.has_ipv4);
      copy_prefix_address(port_config.ipv6, port.local_ipv6, port.has_ipv6);
      port.neighbours = dp->neighbours_[p].get();
      port.to_control = dp->to_control_[w];
      configure_nat(port, port_config);
      if (port_config.exception_port) {
        port.exception_port = *port_config.exception_port;
        port.exception_queue = w;
      }
      port.queue_count = workers;
      port.reta_size = static_cast<uint16_t>(std::min<size_t>(dp->ports_[p].reta.size(), kMaxReta));
      std::copy_n(dp->ports_[p].reta.begin(), port.reta_size, port.reta);
      launch->ports.push_back(port);
    }
    // Fullnat port hints on the worker's own NUMA node, rebuilt from the (possibly
    // adopted) NAT table by one full sweep before the first packet.
    Worker& worker = *dp->workers_.back();
    const size_t hint_bytes = size_t{NatPortHints::kMaxAddresses} * NatPortHints::kWordsPerAddress * sizeof(uint64_t);
    auto* hints = static_cast<uint64_t*>(rte_zmalloc_socket(fmt::format("eclb_nat_hints_{}", w).c_str(), hint_bytes, 64,
                                                            static_cast<int>(rte_lcore_to_socket_id(dp->worker_lcores_[w]))));
    if (hints == nullptr) return make_error("cannot allocate {} bytes of NAT port hints for worker {}", hint_bytes, w);
    dp->nat_hints_.push_back(hints);
    worker.set_nat_hints(hints);
    for (const WorkerPort& port : launch->ports) worker.add_nat_addresses(port);
    worker.set_clock(clock.now_s(rte_rdtsc()));
    worker.sweep_nat(worker.nat().bucket_count());
    launch->nat_sweep_buckets = std::clamp<uint32_t>(worker.nat().bucket_count() / 2000, 4, 32);
    dp->launches_.push_back(std::move(launch));
  }
  // Publish known neighbours (static, and those the previous run resolved) before the
  // first packet, and start resolving the rest.
  std::vector<rte_mbuf*> requests;
  dp->slow_path_->tick(dp->control_reader_->view(), monotonic_ms(), requests);
  for (rte_mbuf* m : requests) {
    if (rte_ring_sp_enqueue(dp->from_control_, m) != 0) rte_pktmbuf_free(m);
  }
  return dp;
}

int Dataplane::run(const std::atomic<bool>& stop) {
  for (size_t w = 0; w < worker_lcores_.size(); ++w) {
    const int rc = rte_eal_remote_launch(worker_main, launches_[w].get(), worker_lcores_[w]);
    if (rc != 0) {
      log::error("dp.runtime", "cannot launch worker {} on lcore {}: {}", w, worker_lcores_[w], rte_strerror(-rc));
      workers_stop_ = true;
      rte_eal_mp_wait_lcore();
      return 1;
    }
  }
  launched_ = true;
  log::info("dp.runtime", "forwarding workers={} ports={} table_generation={}", worker_lcores_.size(), ports_.size(),
            segment_->generation());
  std::vector<const std::atomic<uint64_t>*> ticks;
  for (const auto& launch : launches_) ticks.push_back(&launch->ticks);
  watchdog_.emplace(service::watchdog_period().value_or(std::chrono::microseconds(0)), service::notify_watchdog,
                    std::move(ticks));
  service::notify_ready(fmt::format("forwarding: {} workers, {} ports, table generation {}", worker_lcores_.size(),
                                    ports_.size(), segment_->generation()));
  control_loop(stop);
  service::notify_stopping();
  workers_stop_ = true;
  rte_eal_mp_wait_lcore();
  launched_ = false;
  log::info("dp.runtime", "stopped flows_kept={}", flows_->entries());
  return 0;
}

// The exception path on the control lcore: ARP/ND for the kernel out to its port, and
// what the kernel sent back out of the NIC (through worker 0, which owns a TX queue).
void Dataplane::relay_exceptions(std::vector<rte_mbuf*>& kernel, std::vector<rte_mbuf*>& out) {
  for (rte_mbuf* m : kernel) {
    const ExceptionLink* link = nullptr;
    for (const ExceptionLink& candidate : exceptions_) {
      if (candidate.port_id == m->port) link = &candidate;
    }
    if (link == nullptr || rte_eth_tx_burst(link->exception_port, link->control_queue, &m, 1) != 1) {
      rte_pktmbuf_free(m);
    }
  }
  kernel.clear();
  rte_mbuf* packets[kBurstSize];
  for (const ExceptionLink& link : exceptions_) {
    for (uint16_t queue = 0; queue <= link.control_queue; ++queue) {
      const uint16_t count = rte_eth_rx_burst(link.exception_port, queue, packets, kBurstSize);
      for (uint16_t i = 0; i < count; ++i) {
        packets[i]->port = link.port_id;
        out.push_back(packets[i]);
      }
    }
  }
}

void Dataplane::control_loop(const std::atomic<bool>& stop) {
  std::vector<rte_mbuf*> out;
  std::vector<rte_mbuf*> kernel;
  rte_mbuf* packets[kBurstSize];
  uint64_t next_tick_ms = 0;
  uint64_t generation = 0;
  bool warned_retired = false;
  while (!stop.load(std::memory_order_relaxed)) {
    const uint64_t now_ms = monotonic_ms();
    if (control_reader_->refresh() && control_reader_->generation() != generation) {
      generation = control_reader_->generation();
      log::info("dp.runtime", "table generation={} vips={}", generation,
                control_reader_->view().empty() ? 0 : control_reader_->view().vips().size());
      sync_steering();
    }
    const TableView& table = control_reader_->view();
    for (rte_ring* ring : to_control_) {
      const unsigned count = rte_ring_sc_dequeue_burst(ring, reinterpret_cast<void**>(packets), kBurstSize, nullptr);
      for (unsigned i = 0; i < count; ++i) slow_path_->handle(packets[i], table, now_ms, out, kernel);
    }
    if (!exceptions_.empty()) relay_exceptions(kernel, out);
    if (now_ms >= next_tick_ms) {
      slow_path_->tick(table, now_ms, out);
      refresh_links(true);
      publish_slow_path_counters();
      port_counters_.publish();
      stats_->heartbeat();
      watchdog_->tick(now_ms);
      if (segment_->retired() && !warned_retired) {
        log::warn("dp.runtime", "the table region was replaced (capacity change): still forwarding with the last "
                                "tables; restart eclb-dataplane to attach the new region (flows survive)");
        warned_retired = true;
      }
      next_tick_ms = now_ms + 100;
    }
    const bool busy = !out.empty();
    for (rte_mbuf* m : out) {
      if (rte_ring_sp_enqueue(from_control_, m) != 0) rte_pktmbuf_free(m);
    }
    out.clear();
    // Idle: nap. Busy (the kernel is sending through the exception port): go round again.
    if (!busy) std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
}

Result<std::optional<XdpSteering>> Dataplane::start_steering(const PortInfo& port,
                                                             const DataplanePortConfig& config) {
  std::vector<IpAddress> local = nat_pool(config, false);
  for (const IpAddress& address : nat_pool(config, true)) local.push_back(address);
  if (config.ipv4) local.push_back(config.ipv4->address);
  if (config.ipv6) local.push_back(config.ipv6->address);
  auto steering = XdpSteering::find(port.if_index, std::move(local));
  if (!steering) return make_error("port {}: {}", port.port_id, steering.error().message);
  if (!steering->has_value()) {
    log::warn("dp.runtime", "port={} af_xdp without eclb's steering program (xdp_prog=.../xdp_steer.bpf.o): every "
                            "packet of its queues goes to DPDK, and the host loses this interface", port.port_id);
    return std::optional<XdpSteering>();
  }
  if (auto synced = (*steering)->sync(control_reader_->view()); !synced) {
    return make_error("port {}: xdp steering: {}", port.port_id, synced.error().message);
  }
  log::info("dp.runtime", "port={} xdp steering: L4 VIP, local and fullnat traffic to DPDK, the rest to the kernel",
            port.port_id);
  return steering;
}

void Dataplane::refresh_links(bool log_changes) {
  for (size_t p = 0; p < ports_.size(); ++p) {
    rte_eth_link link{};
    const bool up = rte_eth_link_get_nowait(ports_[p].port_id, &link) == 0 && link.link_status == RTE_ETH_LINK_UP;
    const bool was = link_up_[p].exchange(up ? 1 : 0, std::memory_order_relaxed) != 0;
    if (log_changes && up != was) log::info("dp.runtime", "port={} link {}", ports_[p].port_id, up ? "up" : "down");
  }
}

void Dataplane::publish_slow_path_counters() noexcept {
  const SlowPathCounters& counters = slow_path_->counters();
  abi::SlowPathStats& out = stats_->slow_path();
  store_relaxed(&out.arp_replies, counters.arp_replies);
  store_relaxed(&out.na_sent, counters.na_sent);
  store_relaxed(&out.requests_sent, counters.requests_sent);
  store_relaxed(&out.learned, counters.learned);
  store_relaxed(&out.ignored, counters.ignored);
  store_relaxed(&out.to_kernel, counters.to_kernel);
  store_relaxed(&out.dropped, counters.dropped);
}

void Dataplane::sync_steering() {
  for (AfXdpPort& port : af_xdp_ports_) {
    if (!port.steering) continue;
    if (auto synced = port.steering->sync(control_reader_->view()); !synced) {
      log::error("dp.runtime", "xdp steering: {} (the previous steering stays)", synced.error().message);
    }
  }
}

void Dataplane::WorkerDelete::operator()(Worker* worker) const noexcept {
  worker->~Worker();
  rte_free(worker);
}

Dataplane::~Dataplane() {
  if (launched_) {
    workers_stop_ = true;
    rte_eal_mp_wait_lcore();
  }
  for (const PortInfo& port : ports_) stop_port(port.port_id);
  // The PMD detached its steering program when the port closed: attach it again, so
  // the next run (an upgrade) takes the interface over without a gap.
  for (AfXdpPort& port : af_xdp_ports_) {
    if (port.steering) port.interface.hold(port.steering->program_fd());
  }
  for (const ExceptionLink& link : exceptions_) stop_port(link.exception_port);
  if (flows_) flows_->release();
  for (rte_ring* ring : to_control_) rte_ring_free(ring);
  if (from_control_ != nullptr) rte_ring_free(from_control_);
  if (pool_ != nullptr) rte_mempool_free(pool_);
  for (uint64_t* hints : nat_hints_) rte_free(hints);
}

}  // namespace eclb::dp
