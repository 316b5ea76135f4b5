// Names of config enums, shared by messages, eclbctl and the loader.
#include "config/config.h"

namespace eclb {

const PoolConfig* Config::find_pool(const std::string& name) const {
  for (const PoolConfig& pool : pools) {
    if (pool.name == name) return &pool;
  }
  return nullptr;
}

std::string_view to_string(HealthCheckConfig::Kind kind) {
  switch (kind) {
    case HealthCheckConfig::Kind::kNone: return "none";
    case HealthCheckConfig::Kind::kTcp: return "tcp";
    case HealthCheckConfig::Kind::kHttp: return "http";
    case HealthCheckConfig::Kind::kHttps: return "https";
    case HealthCheckConfig::Kind::kWebSocket: return "websocket";
  }
  return "unknown";
}

Result<std::array<uint8_t, 6>> parse_mac(std::string_view text) {
  std::array<uint8_t, 6> mac{};
  if (text.size() != 17) return make_error("invalid MAC address \"{}\"", text);
  for (size_t i = 0; i < 6; ++i) {
    if (i > 0 && text[3 * i - 1] != ':') return make_error("invalid MAC address \"{}\"", text);
    unsigned value = 0;
    for (size_t j = 0; j < 2; ++j) {
      const char c = text[3 * i + j];
      const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (digit < 0) return make_error("invalid MAC address \"{}\"", text);
      value = value * 16 + static_cast<unsigned>(digit);
    }
    mac[i] = static_cast<uint8_t>(value);
  }
  return mac;
}

std::string_view to_string(abi::ForwardMode mode) {
  switch (mode) {
    case abi::ForwardMode::kDsrIpip: return "dsr-ipip";
    case abi::ForwardMode::kDsrGue: return "dsr-gue";
    case abi::ForwardMode::kFullNat: return "fullnat";
    case abi::ForwardMode::kL7Proxy: return "l7";
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

}  // namespace eclb
