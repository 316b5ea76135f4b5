// Maglev rebuilt with one member more or less, compared slot by slot and flow by flow.
#include "control/cli/what_if.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "control/cli/table_commands.h"
#include "control/core/maglev_table.h"
#include "abi/flow_hash.h"

namespace eclb::ctl::cli {

Result<std::string> render_what_if(const TableSnapshot& snapshot, const FlowReader* flows, const std::string& selector,
                                   const WhatIfChange& change, bool json_output) {
  auto found = find_vip(snapshot, selector);
  if (!found) return std::move(found).error();
  const abi::VipEntry& vip = **found;
  const auto members = snapshot.view.backends_of(vip);

  // Today's table as Maglev inputs (members that are not up take part with weight 0).
  std::vector<MaglevBackend> now;
  for (const abi::BackendEntry& member : members) {
    now.push_back({{IpAddress::from_bytes(member.family, member.address), member.port},
                   member.state == abi::BackendState::kUp ? member.weight : 0u});
  }
  std::vector<MaglevBackend> next = now;
  std::string description;
  int removed = -1;
  if (!change.remove.empty()) {
    const auto endpoint = Endpoint::parse(change.remove);
    for (size_t i = 0; i < members.size(); ++i) {
      if (change.remove == members[i].name || (endpoint && *endpoint == now[i].endpoint)) removed = static_cast<int>(i);
    }
    if (removed < 0) return make_error("vip \"{}\" has no member \"{}\"", vip.name, change.remove);
    next[static_cast<size_t>(removed)].weight = 0;
    description = fmt::format("remove {}", members[static_cast<size_t>(removed)].name);
  } else {
    auto endpoint = Endpoint::parse(change.add);
    if (!endpoint) return std::move(endpoint).error();
    for (const MaglevBackend& member : now) {
      if (member.endpoint == *endpoint) return make_error("{} is already a member of \"{}\"", change.add, vip.name);
    }
    next.push_back({*endpoint, change.add_weight});
    description = fmt::format("add {} (weight {})", change.add, change.add_weight);
  }
  auto before = MaglevTable::build(now, vip.table_size);
  auto after = MaglevTable::build(next, vip.table_size);
  if (!before) return std::move(before).error();
  if (!after) return std::move(after).error();
  uint32_t moved_slots = 0;
  for (uint32_t s = 0; s < vip.table_size; ++s) {
    const uint32_t a = before->slots()[s], b = after->slots()[s];
    const bool same = a == b || (a < now.size() && b < next.size() && now[a].endpoint == next[b].endpoint);
    moved_slots += !same;
  }

  // Current flows: re-picked ones (their backend leaves) move for sure; others stay on
  // their backend while their flow entry lives, but a host without that entry (another
  // balancer, or after losing the flow table) would now send them elsewhere.
  uint64_t flow_count = 0, forced = 0, repointed = 0;
  if (flows != nullptr) {
    flows->for_each([&](const FlowRecord& record) {
      if (record.entry.vip_id != vip.id || record.entry.family != vip.family) return;
      ++flow_count;
      const abi::BackendEntry* backend = snapshot.view.backend_with_id(record.entry.backend_id);
      if (removed >= 0 && backend == &members[static_cast<size_t>(removed)]) ++forced;
      abi::FlowKey key;
      std::memcpy(&key, &record.entry, sizeof key);
      const uint32_t slot = static_cast<uint32_t>(abi::flow_hash(key, snapshot.view.flow_hash_seed()) % vip.table_size);
      const uint32_t target = after->slots()[slot];
      if (backend != nullptr && target < next.size() &&
          next[target].endpoint != Endpoint{IpAddress::from_bytes(backend->family, backend->address), backend->port}) {
        ++repointed;
      }
    });
  }
  const double slot_share = static_cast<double>(moved_slots) / vip.table_size;
  if (json_output) {
    nlohmann::json out = {{"vip", vip.name},          {"change", description},  {"table_size", vip.table_size},
                          {"slots_moved", moved_slots}, {"slots_moved_share", slot_share}};
    if (flows != nullptr) {
      out["flows"] = flow_count;
      out["flows_moved"] = forced;
      out["flows_moved_share"] = flow_count ? static_cast<double>(forced) / flow_count : 0.0;
      out["flows_repointed_by_table"] = repointed;
    }
    return out.dump(2) + "\n";
  }
  std::string out = fmt::format("vip {}: {}\n  table: {} of {} slots change owner ({:.2f}%)\n", vip.name, description,
                                moved_slots, vip.table_size, 100 * slot_share);
  if (flows != nullptr) {
    out += fmt::format("  flows: {} of {} current flows move ({:.2f}%): their backend leaves\n", forced, flow_count,
                       flow_count ? 100.0 * forced / flow_count : 0.0);
    out += fmt::format("         {} more would map elsewhere by the new table; they keep their backend while their "
                       "flow entry lives\n",
                       repointed - forced);
  } else {
    out += "  flows: unknown (no flow region: is eclb-dataplane running?)\n";
  }
  return out;
}

}  // namespace eclb::ctl::cli
