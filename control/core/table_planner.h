// plan_tables: Config + the current state of every backend -> TableContent, building one
// Maglev table per VIP from the members that are up. Pure: no clocks, no I/O.
#pragma once

#include <functional>

#include "common/result.h"
#include "config/config.h"
#include "control/core/table_content.h"

namespace eclb::ctl {

// What the planner needs to know about one backend of one pool right now: its state
// (health, drain) and its effective weight (config, or an operator's override or ramp).
struct MemberState {
  abi::BackendState state = abi::BackendState::kUp;
  uint32_t weight = 1;
};
using MemberStateFn = std::function<MemberState(const PoolConfig& pool, const BackendConfig& backend)>;

// Every member up with its configured weight: a fresh start before health checks report.
MemberState as_configured(const PoolConfig& pool, const BackendConfig& backend);

// Members keep the pool's order. Only kUp members with weight > 0 own slots.
Result<TableContent> plan_tables(const Config& config, const MemberStateFn& state_of = as_configured);

}  // namespace eclb::ctl
