// Port setup: one RX and one TX queue per worker lcore on every configured port, RSS
// across them when there is more than one, IPv4 checksum offload where offered, all
// multicast (ND). Not promiscuous: VIP traffic is unicast to the port's MAC. Startup only.
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
// The exception port of a forwarding port (a TAP or virtio-user port standing for the
// kernel): `tx_queues` TX queues (one per worker, plus the control lcore's) and as many
// RX queues (what the kernel sends, all read by the control lcore). Its MAC is set to
// the forwarding port's, so the kernel answers with the NIC's own address.
Result<void> setup_exception_port(uint16_t port_id, uint16_t tx_queues, rte_mempool* pool, const uint8_t (&mac)[6]);
void stop_port(uint16_t port_id) noexcept;

}  // namespace eclb::dp
