// plan_tables: Config + the current state of every backend -> TableContent, building one
// Maglev table per VIP from the members that are up. Pure: no clocks, no I/O.
#pragma once

#include <functional>

#include "common/result.h"
#include "control/core/config.h"
#include "control/core/table_content.h"

namespace eclb::ctl {

// State of one backend of one pool; the planner asks once per VIP member.
using BackendStateFn = std::function<abi::BackendState(const PoolConfig& pool, const BackendConfig& backend)>;

// Every member up: what a fresh start publishes before health checks report.
abi::BackendState all_up(const PoolConfig& pool, const BackendConfig& backend);

// Members keep the pool's order. Only kUp members with weight > 0 own slots.
Result<TableContent> plan_tables(const Config& config, const BackendStateFn& state_of = all_up);

}  // namespace eclb::ctl
