// Comparing two publications' table content: whether anything a reader would see
// changed (eclb-control publishes only then), and a one-line description of what did, for
// the log line of each publication ("gw/vm2 up->down, gw/vm3 weight 1->2"). Pure.
#pragma once

#include <string>

#include "control/core/table_content.h"

namespace eclb::ctl {

// True when `a` and `b` would publish the same tables: VIPs, members, weights, states and
// the flow hash seed, in the same order.
bool same_content(const TableContent& a, const TableContent& b);

// "vip/member old->new" for every difference from `before` to `after`, joined with ", ";
// "initial" without a `before`, "none" when nothing differs.
std::string describe_changes(const TableContent* before, const TableContent& after);

}  // namespace eclb::ctl
