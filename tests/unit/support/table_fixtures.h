// Small TableContent builders for table region tests.
#pragma once

#include <string>

#include "control/core/maglev_table.h"
#include "control/core/table_content.h"

namespace eclb::test {

inline Endpoint endpoint(const std::string& text) { return *Endpoint::parse(text); }

// A VIP at vip_text with `members` IPv4 backends 10.1.<vip_octet>.<i+1>:8080, all up,
// and a real Maglev table of table_size slots.
inline ctl::VipContent make_vip(const std::string& name, const std::string& vip_text, int members,
                                uint32_t table_size = 251, int vip_octet = 0) {
  ctl::VipContent vip;
  vip.name = name;
  vip.endpoint = endpoint(vip_text);
  vip.table_size = table_size;
  std::vector<ctl::MaglevBackend> weighted;
  for (int i = 0; i < members; ++i) {
    const Endpoint e = endpoint("10.1." + std::to_string(vip_octet) + "." + std::to_string(i + 1) + ":8080");
    vip.members.push_back({"vm" + std::to_string(i + 1), e, 1, abi::BackendState::kUp});
    weighted.push_back({e, 1});
  }
  auto table = ctl::MaglevTable::build(weighted, table_size);
  vip.slots.assign(table->slots().begin(), table->slots().end());
  return vip;
}

}  // namespace eclb::test
