// eclbctl what-if: how much of a VIP's Maglev table, and of its current flows, would
// move if a backend left (--remove) or joined (--add). Computed from the published table
// and the dataplane's flow region; changes nothing.
#pragma once

#include <optional>
#include <string>

#include "common/flow_reader.h"
#include "common/result.h"
#include "common/table_segment.h"

namespace eclb::ctl::cli {

struct WhatIfChange {
  std::string remove;  // member name or ADDRESS:PORT
  std::string add;     // ADDRESS:PORT
  uint32_t add_weight = 1;
};

Result<std::string> render_what_if(const TableSnapshot& snapshot, const FlowReader* flows, const std::string& vip,
                                   const WhatIfChange& change, bool json);

}  // namespace eclb::ctl::cli
