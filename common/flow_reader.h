// FlowReader: read-only view of eclb-dataplane's flow region (abi/flow_region.h) for
// eclbctl flows. Entries are read while workers write them, so what it returns is a
// best-effort snapshot: each entry is copied and sanity-checked, never trusted.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "abi/flow_region.h"
#include "common/mapped_file.h"
#include "common/result.h"

namespace eclb {

struct FlowRecord {
  uint32_t worker;
  abi::FlowEntry entry;
  abi::FlowState state;
  uint32_t last_seen_s;  // CLOCK_MONOTONIC seconds
};

class FlowReader {
 public:
  static Result<FlowReader> attach(const std::string& path);
  const abi::FlowRegionHeader& header() const noexcept {
    return *reinterpret_cast<const abi::FlowRegionHeader*>(file_.data());
  }
  // Calls `visit` for every occupied way of every worker.
  void for_each(const std::function<void(const FlowRecord&)>& visit) const;

 private:
  MappedFile file_;
};

}  // namespace eclb
