// Port setup: one RX and one TX queue per worker lcore on every configured port, RSS
// across them when there is more than one, promiscuous mode (the balancer receives for
// VIP addresses that are not the port's own). Startup only.
#pragma once

#include <rte_mempool.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace eclb::dp {

struct PortInfo {
  uint16_t port_id = 0;
  uint16_t queues = 0;
  uint16_t mtu = 1500;
  uint8_t mac[6] = {};
  std::string driver;
  unsigned if_index = 0;  // the kernel interface behind the port (af_xdp, af_packet, tap), or 0
  bool rss = false;  // flows spread over the queues by the port (false with one queue)
  std::vector<uint16_t> reta;  // the port's redirection table, if it has one
};

inline constexpr uint16_t kRxDescriptors = 1024;
inline constexpr uint16_t kTxDescriptors = 1024;

Result<PortInfo> setup_port(uint16_t port_id, uint16_t queues, rte_mempool* pool);
void stop_port(uint16_t port_id) noexcept;

}  // namespace eclb::dp
