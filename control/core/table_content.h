// TableContent: everything one publication of the table region holds, as plain data:
// VIPs with their members (identity, weight, state) and built Maglev slots. The planner
// (table_planner.h) produces it from a Config; the writer (control/publish) lays it out.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/ip_address.h"
#include "abi/table_region.h"

namespace eclb::ctl {

struct MemberContent {
  std::string name;
  Endpoint endpoint;
  uint32_t weight = 1;
  abi::BackendState state = abi::BackendState::kUp;
};

struct VipContent {
  std::string name;
  Endpoint endpoint;
  abi::L4Protocol protocol = abi::L4Protocol::kTcp;
  abi::ForwardMode mode = abi::ForwardMode::kFullNat;
  uint32_t table_size = abi::kDefaultTableSize;
  std::vector<MemberContent> members;
  std::vector<uint32_t> slots;  // table_size entries: index into members, or kNoBackend
};

struct TableContent {
  std::vector<VipContent> vips;
  uint64_t flow_hash_seed = 0;  // seed of abi::flow_hash, from tables.flow_hash_seed
};

}  // namespace eclb::ctl
