// StatsReader: read-only view of eclb-dataplane's stats region (dataplane/abi/
// stats_region.h) for eclbctl and eclb-control's metrics: validates the header and sums
// the per-lcore counters. stats_header_checksum is shared with the dataplane (writer).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/mapped_file.h"
#include "common/result.h"
#include "dataplane/abi/stats_region.h"

namespace eclb {

uint64_t stats_header_checksum(abi::StatsHeader header) noexcept;

struct StatsTotals {
  abi::LcoreStats lcore{};                  // every lcore's counters summed
  std::vector<abi::LcoreStats> per_lcore;
  std::vector<abi::VipStats> vips;          // by VIP id
  std::vector<abi::BackendStats> backends;  // by backend id
};

class StatsReader {
 public:
  static Result<StatsReader> attach(const std::string& path);
  const abi::StatsHeader& header() const noexcept { return *reinterpret_cast<const abi::StatsHeader*>(file_.data()); }
  StatsTotals read() const;
  uint64_t heartbeat_age_ms() const noexcept;  // time since the dataplane last refreshed it
  bool writer_alive() const noexcept;           // its process still exists

 private:
  MappedFile file_;
};

}  // namespace eclb
