// StatsReader: read-only view of eclb-dataplane's stats region (abi/stats_region.h) for
// eclbctl and eclb-control's metrics: validates the header and sums the per-lcore
// counters.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/mapped_file.h"
#include "common/result.h"
#include "abi/stats_region.h"

namespace eclb {

// One port's own counters, as read from the region.
struct PortTotals {
  uint32_t port_id = 0;
  std::string driver;
  uint64_t ipackets = 0, opackets = 0, ibytes = 0, obytes = 0, imissed = 0, ierrors = 0, oerrors = 0, rx_nombuf = 0;
  std::vector<std::pair<std::string, uint64_t>> xstats;  // the PMD's extended statistics, by name
};

struct StatsTotals {
  abi::LcoreStats lcore{};                  // every lcore's counters summed (drops include the slow path's)
  std::vector<abi::LcoreStats> per_lcore;
  std::vector<abi::VipStats> vips;          // by VIP id
  std::vector<abi::BackendStats> backends;  // by backend id
  abi::SlowPathStats slow_path{};           // minor 2 (zero before)
  std::vector<PortTotals> ports;            // minor 2 (none before)
};

class StatsReader {
 public:
  static Result<StatsReader> attach(const std::string& path);
  const abi::StatsHeader& header() const noexcept { return *reinterpret_cast<const abi::StatsHeader*>(file_.data()); }
  StatsTotals read() const;
  uint64_t heartbeat_age_ms() const noexcept;  // time since the dataplane last refreshed it
  // The lowest table generation any lcore forwards with (read().lcore.table_generation,
  // without summing the counters).
  uint64_t adopted_generation() const noexcept;
  bool writer_alive() const noexcept;           // its process still exists

 private:
  MappedFile file_;
};

}  // namespace eclb
