// eclbctl commands over eclb-dataplane's shared memory: `stats` (counters per worker,
// drops by reason, per VIP and backend) and `flows VIP` (the flow table's entries for a
// VIP, by backend). Names come from the table snapshot; counters are keyed by stable ids.
#pragma once

#include <string>

#include "common/flow_reader.h"
#include "common/result.h"
#include "common/stats_reader.h"
#include "common/table_segment.h"

namespace eclb::ctl::cli {

std::string render_stats(const StatsReader& stats, const TableSnapshot* snapshot, bool json);
Result<std::string> render_flows(const FlowReader& flows, const TableSnapshot& snapshot, const std::string& vip,
                                 size_t limit, bool json);

}  // namespace eclb::ctl::cli
