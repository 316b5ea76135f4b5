// The run-to-completion loop of one worker lcore: pick up a new table generation, poll
// every port's queue of this worker, process bursts, and (worker 0) transmit what the
// control lcore hands back. Launched with rte_eal_remote_launch.
#pragma once

#include <rte_ring.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "common/table_reader.h"
#include "dataplane/fastpath/worker.h"

namespace eclb::dp {

// Converts the TSC to CLOCK_MONOTONIC seconds without a syscall.
struct MonotonicClock {
  uint64_t base_tsc = 0;
  uint64_t base_s = 0;
  uint64_t tsc_hz = 1;

  static MonotonicClock start() noexcept;
  uint32_t now_s(uint64_t tsc) const noexcept { return static_cast<uint32_t>(base_s + (tsc - base_tsc) / tsc_hz); }
};

struct WorkerLaunch {
  Worker* worker = nullptr;
  TableReader* reader = nullptr;
  const TableLayout* layout = nullptr;
  std::vector<WorkerPort> ports;
  // Per entry of `ports`: 1 while its link is up (the control lcore's view, refreshed on
  // its tick). A port is polled only then: DPDK 22.11's memif PMD crashed a worker that
  // polled while its peer was connecting (and there is nothing to receive anyway).
  const std::atomic<uint8_t>* link_up = nullptr;
  rte_ring* from_control = nullptr;  // worker 0 only: frames the control lcore wants sent
  const std::atomic<bool>* stop = nullptr;
  MonotonicClock clock;
  uint32_t nat_sweep_buckets = 0;  // NAT buckets swept per tick (Worker::sweep_nat)
  uint32_t idle_sleep_us = 0;      // dataplane.idle_sleep_us
  // Written by the worker only, once per 1 ms tick; read by the control lcore
  // (ServiceWatchdog) to tell a live loop from a stuck one. A line of its own.
  alignas(64) std::atomic<uint64_t> ticks{0};
};

// lcore entry point; `arg` is a WorkerLaunch*. Returns 0 when *stop becomes true.
int worker_main(void* arg);

}  // namespace eclb::dp
