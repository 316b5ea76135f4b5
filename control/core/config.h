// Config: the model of an eclb configuration file (VIPs, pools of backends, the table
// region), as eclb-control and its tests use it. Parsing and validation live in
// config_loader.h; this header is plain data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/ip_address.h"
#include "common/table_layout.h"
#include "dataplane/abi/table_region.h"

namespace eclb::ctl {

struct BackendConfig {
  std::string name;  // defaults to the endpoint text
  Endpoint endpoint;
  uint32_t weight = 1;
};

struct PoolConfig {
  std::string name;
  std::vector<BackendConfig> backends;
};

struct VipConfig {
  std::string name;
  Endpoint endpoint;  // VIP address and port
  abi::L4Protocol protocol = abi::L4Protocol::kTcp;
  abi::ForwardMode mode = abi::ForwardMode::kFullNat;
  std::string pool;
  uint32_t table_size = abi::kDefaultTableSize;
};

struct TablesConfig {
  std::string segment = "/dev/shm/eclb-tables";
  TableCapacity capacity;
};

struct Config {
  std::string source;  // file the config came from, for messages
  TablesConfig tables;
  std::vector<PoolConfig> pools;
  std::vector<VipConfig> vips;

  const PoolConfig* find_pool(const std::string& name) const;
};

std::string_view to_string(abi::ForwardMode mode);
std::string_view to_string(abi::L4Protocol protocol);
std::string_view to_string(abi::BackendState state);

}  // namespace eclb::ctl
