// The dataplane's own shared-memory regions: the stats region (created fresh by every
// run) and the flow region (adopted from the previous run when its geometry matches, so
// flows keep their backends across a restart). Startup code; errors name the file.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "common/mapped_file.h"
#include "common/result.h"
#include "abi/flow_region.h"
#include "abi/stats_region.h"
#include "dataplane/fastpath/flow_table.h"
#include "dataplane/fastpath/worker.h"

namespace eclb::dp {

class StatsRegion {
 public:
  static Result<StatsRegion> create(const std::string& path, uint32_t lcores, uint32_t max_vips, uint32_t max_backends,
                                    uint32_t ports);
  WorkerCounters counters_for(uint32_t lcore) const noexcept;
  // The control lcore's blocks: its slow path counters, and port `index` (config order).
  abi::SlowPathStats& slow_path() const noexcept;
  abi::PortStats& port(uint32_t index) const noexcept;
  void heartbeat() noexcept;  // control lcore, about every 100 ms
  abi::StatsHeader& header() const noexcept { return *reinterpret_cast<abi::StatsHeader*>(file_.data()); }

 private:
  MappedFile file_;
};

class FlowRegion {
 public:
  // Adopts the region at `path` if it has this worker count and bucket count and no live
  // owner; otherwise creates it anew. Fails if another live dataplane owns it.
  static Result<FlowRegion> open(const std::string& path, uint32_t workers, uint32_t entries_per_worker);
  // The flow table (nat = false) or the NAT table (nat = true) of `worker`.
  FlowTable table_for(uint32_t worker, bool nat, const FlowTimeouts& timeouts, const FlowGuardConfig& guard) const noexcept;
  bool adopted() const noexcept { return adopted_; }
  uint64_t entries() const noexcept;  // occupied entries, all workers
  // The neighbour cache (empty in a region of minor 1): the control lcore's only.
  std::span<abi::FlowNeighbour> neighbours() const noexcept;
  void release() noexcept;            // clean stop: the region stays for the next run
  const abi::FlowRegionHeader& header() const noexcept {
    return *reinterpret_cast<const abi::FlowRegionHeader*>(file_.data());
  }

 private:
  MappedFile file_;
  bool adopted_ = false;
};

// Resolved next hops a flow region keeps for the next run (abi::FlowNeighbour).
inline constexpr uint32_t kNeighbourCacheEntries = 1024;

// Bucket count for at least `entries` entries (kFlowWays per bucket, a power of two).
uint32_t flow_bucket_count(uint32_t entries) noexcept;

}  // namespace eclb::dp
