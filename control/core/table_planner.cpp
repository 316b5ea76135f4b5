// Config -> TableContent (Maglev per VIP over its up members).
#include "control/core/table_planner.h"

#include "control/core/maglev_table.h"

namespace eclb::ctl {

MemberState as_configured(const PoolConfig&, const BackendConfig& backend) {
  return {abi::BackendState::kUp, backend.weight};
}

Result<TableContent> plan_tables(const Config& config, const MemberStateFn& state_of) {
  TableContent content;
  content.flow_hash_seed = config.tables.flow_hash_seed;
  content.vips.reserve(config.vips.size());
  for (const VipConfig& vip : config.vips) {
    const PoolConfig* pool = config.find_pool(vip.pool);
    if (pool == nullptr) return make_error("vip \"{}\": no pool named \"{}\"", vip.name, vip.pool);
    VipContent out;
    out.name = vip.name;
    out.endpoint = vip.endpoint;
    out.protocol = vip.protocol;
    out.mode = vip.mode;
    out.table_size = vip.table_size;
    std::vector<MaglevBackend> weighted;
    weighted.reserve(pool->backends.size());
    for (const BackendConfig& backend : pool->backends) {
      const MemberState now = state_of(*pool, backend);
      MemberContent member{backend.name, backend.endpoint, now.weight, now.state};
      // Members that are not up take part with weight 0: they keep their index but own
      // no slot, so the table depends only on the up set.
      weighted.push_back({backend.endpoint, member.state == abi::BackendState::kUp ? now.weight : 0});
      out.members.push_back(std::move(member));
    }
    auto table = MaglevTable::build(weighted, vip.table_size);
    if (!table) return std::move(table).context(fmt::format("vip \"{}\"", vip.name));
    out.slots.assign(table->slots().begin(), table->slots().end());
    content.vips.push_back(std::move(out));
  }
  return content;
}

}  // namespace eclb::ctl
