// Names of config enums, shared by messages, eclbctl and the loader.
#include "control/core/config.h"

namespace eclb::ctl {

const PoolConfig* Config::find_pool(const std::string& name) const {
  for (const PoolConfig& pool : pools) {
    if (pool.name == name) return &pool;
  }
  return nullptr;
}

std::string_view to_string(abi::ForwardMode mode) {
  switch (mode) {
    case abi::ForwardMode::kDsrIpip: return "dsr-ipip";
    case abi::ForwardMode::kDsrGue: return "dsr-gue";
    case abi::ForwardMode::kFullNat: return "fullnat";
  }
  return "unknown";
}

std::string_view to_string(abi::L4Protocol protocol) {
  switch (protocol) {
    case abi::L4Protocol::kTcp: return "tcp";
    case abi::L4Protocol::kUdp: return "udp";
  }
  return "unknown";
}

std::string_view to_string(abi::BackendState state) {
  switch (state) {
    case abi::BackendState::kUp: return "up";
    case abi::BackendState::kDown: return "down";
    case abi::BackendState::kDrained: return "drained";
  }
  return "unknown";
}

}  // namespace eclb::ctl
