// Worker lcore main loop.
#include "dataplane/runtime/worker_loop.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>

#include <ctime>

namespace eclb::dp {

MonotonicClock MonotonicClock::start() noexcept {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  MonotonicClock clock;
  clock.base_tsc = rte_rdtsc();
  clock.base_s = static_cast<uint64_t>(now.tv_sec);
  clock.tsc_hz = rte_get_tsc_hz();
  return clock;
}

int worker_main(void* arg) {
  auto& launch = *static_cast<WorkerLaunch*>(arg);
  Worker& worker = *launch.worker;
  TableReader& reader = *launch.reader;
  const uint64_t tick = launch.clock.tsc_hz / 1000;  // 1 ms: clock, flow count, NAT sweep
  uint64_t next_tick = 0;
  rte_mbuf* packets[kBurstSize];
  // The ports as this lcore's own copy: the pages are first written here, so Linux puts
  // them on this lcore's NUMA node (the launch's copy was built on the main lcore).
  std::vector<WorkerPort> ports = launch.ports;
  // Rounds in a row that found nothing to do (only counted with idle_sleep_us set).
  constexpr uint32_t kIdleRoundsBeforeSleep = 64;
  uint32_t idle_rounds = 0;
  while (!launch.stop->load(std::memory_order_relaxed)) {
    // One acquire load per iteration; a new generation is validated (bounds only, O(VIPs))
    // before use. A copy that fails is not used: VIP traffic is dropped as no_table.
    if (reader.refresh()) [[unlikely]] {
      const TableView& view = reader.view();
      const bool usable = !view.empty() && copy_bounds_ok(view, *launch.layout);
      worker.set_table(usable ? view : TableView(), reader.generation());
    }
    const uint64_t now = rte_rdtsc();
    if (now >= next_tick) [[unlikely]] {
      worker.set_clock(launch.clock.now_s(now));
      __atomic_store_n(&worker.counters().lcore->flow_entries, worker.flows().entries(), __ATOMIC_RELAXED);
      worker.sweep_nat(launch.nat_sweep_buckets);
      launch.ticks.store(launch.ticks.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      next_tick = now + tick;
    }
    for (size_t p = 0; p < ports.size(); ++p) {
      if (launch.link_up[p].load(std::memory_order_relaxed) == 0) [[unlikely]] continue;
      WorkerPort& port = ports[p];
      const uint16_t received = rte_eth_rx_burst(port.port_id, port.queue_id, packets, kBurstSize);
      if (received != 0) {
        worker.process_burst(port, packets, received);
        idle_rounds = 0;
      }
    }
    if (launch.from_control != nullptr) [[unlikely]] {
      const unsigned count = rte_ring_sc_dequeue_burst(launch.from_control, reinterpret_cast<void**>(packets),
                                                       kBurstSize, nullptr);
      for (unsigned i = 0; i < count; ++i) {
        for (WorkerPort& port : ports) {
          if (port.port_id == packets[i]->port) {
            worker.transmit(port, &packets[i], 1);
            packets[i] = nullptr;
            break;
          }
        }
        if (packets[i] != nullptr) rte_pktmbuf_free(packets[i]);
      }
      if (count != 0) idle_rounds = 0;
    }
    // Only when configured and only while idle: never a syscall with traffic flowing.
    if (launch.idle_sleep_us != 0 && ++idle_rounds >= kIdleRoundsBeforeSleep) [[unlikely]] {
      rte_delay_us_sleep(launch.idle_sleep_us);
    }
  }
  return 0;
}

}  // namespace eclb::dp
