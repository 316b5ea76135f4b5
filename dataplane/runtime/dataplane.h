// Dataplane: eclb-dataplane after rte_eal_init — attaches the table region (waiting
// for it if eclb-control has not published yet), creates the stats region, adopts or
// creates the flow region, sets up ports, launches one worker per worker lcore, and runs
// the control loop (ARP/ND, neighbour resolution, heartbeat) on the main lcore until
// asked to stop.
#pragma once

#include <rte_mempool.h>
#include <rte_ring.h>

#include <atomic>
#include <memory>
#include <optional>
#include <vector>

#include "common/result.h"
#include "common/table_reader.h"
#include "common/table_segment.h"
#include "dataplane/runtime/af_xdp_takeover.h"
#include "dataplane/runtime/options.h"
#include "dataplane/runtime/port_counters.h"
#include "dataplane/runtime/port_setup.h"
#include "dataplane/runtime/service_watchdog.h"
#include "dataplane/runtime/shared_regions.h"
#include "dataplane/runtime/slow_path.h"
#include "dataplane/runtime/xdp_steering.h"
#include "dataplane/runtime/worker_loop.h"

namespace eclb::dp {

class Dataplane {
 public:
  // Returns nullptr (no error) if `stop` became true while waiting for the table region.
  static Result<std::unique_ptr<Dataplane>> start(const DataplaneOptions& options, const std::atomic<bool>& stop);
  ~Dataplane();

  // Runs until `stop`; returns the process exit status.
  int run(const std::atomic<bool>& stop);

 private:
  Dataplane() = default;
  void control_loop(const std::atomic<bool>& stop);

  DataplaneOptions options_;
  std::optional<TableSegment> segment_;
  std::optional<StatsRegion> stats_;
  std::optional<FlowRegion> flows_;
  rte_mempool* pool_ = nullptr;
  std::vector<PortInfo> ports_;
  std::unique_ptr<std::atomic<uint8_t>[]> link_up_;  // per port: its link is up (workers poll it)
  void refresh_links(bool log_changes);
  std::vector<std::unique_ptr<NeighbourTable>> neighbours_;  // per port, same order as ports_
  std::vector<unsigned> worker_lcores_;
  std::vector<rte_ring*> to_control_;  // per worker
  rte_ring* from_control_ = nullptr;   // control -> worker 0
  // Each Worker (its burst state, TX buffers, VIP memo: written every burst) lives in
  // rte_malloc memory on its lcore's NUMA node, not in the main lcore's heap.
  struct WorkerDelete {
    void operator()(Worker* worker) const noexcept;
  };
  std::vector<std::unique_ptr<Worker, WorkerDelete>> workers_;
  std::vector<uint64_t*> nat_hints_;  // per worker, rte_zmalloc'ed (Worker::set_nat_hints)
  std::vector<std::unique_ptr<TableReader>> readers_;  // per worker
  std::unique_ptr<TableReader> control_reader_;
  std::vector<std::unique_ptr<WorkerLaunch>> launches_;
  // The steering maps of an af_xdp port's program, filled from the current tables
  // (nullopt: the PMD's default program, no steering).
  Result<std::optional<XdpSteering>> start_steering(const PortInfo& port, const DataplanePortConfig& config);
  void sync_steering();
  void publish_slow_path_counters() noexcept;
  std::unique_ptr<SlowPath> slow_path_;
  PortCounters port_counters_;
  struct AfXdpPort {
    uint16_t port_id;
    AfXdpInterface interface;             // locked for this run
    std::optional<XdpSteering> steering;  // eclb's steering program, when loaded
  };
  std::vector<AfXdpPort> af_xdp_ports_;
  struct ExceptionLink {
    uint16_t port_id;           // the forwarding port
    uint16_t exception_port;    // its TAP / virtio-user port
    uint16_t control_queue;     // the control lcore's TX queue on the exception port
  };
  std::vector<ExceptionLink> exceptions_;
  void relay_exceptions(std::vector<rte_mbuf*>& kernel, std::vector<rte_mbuf*>& out);
  std::atomic<bool> workers_stop_{false};
  bool launched_ = false;
  std::optional<ServiceWatchdog> watchdog_;  // from run(): needs the launched workers
};

}  // namespace eclb::dp
