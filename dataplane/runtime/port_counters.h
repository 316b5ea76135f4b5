// PortCounters: the ports' own counters (rte_eth_stats and the PMD's extended
// statistics) copied into the stats region, so what a port dropped before any worker
// saw it (a full RX ring, no mbuf, a failed send) is counted where operators look
// (eclbctl stats, /metrics). Control lcore only, on its 100 ms tick: the reads are
// ethdev calls, never on the packet path.
// DPDK 22.11's af_packet PMD reports no RX drops, though its kernel ring overflows when
// the worker falls behind (17-28% of a client's frames in one test here): for such a
// port the kernel's own count of what its packet sockets dropped (PACKET_STATISTICS,
// read-and-clear, which the PMD never reads) is added to imissed.
#pragma once

#include <rte_ethdev.h>

#include <cstdint>
#include <string>
#include <vector>

#include "abi/stats_region.h"

namespace eclb::dp {

class PortCounters {
 public:
  // `slot` is the port's PortStats index in the stats region (its config order).
  void add(uint16_t port_id, const std::string& driver, unsigned if_index, abi::PortStats& slot);
  // Reads every port's counters and stores them (relaxed) into its slot.
  void publish() noexcept;

 private:
  struct Port {
    uint16_t port_id;
    abi::PortStats* slot;
    uint32_t xstats;                  // how many of the PMD's extended statistics are copied
    std::vector<int> packet_sockets;  // af_packet: the PMD's sockets on the interface
    uint64_t socket_drops = 0;        // what they dropped so far
  };
  std::vector<Port> ports_;
  std::vector<rte_eth_xstat> values_;  // scratch, sized for the largest port at add()
};

}  // namespace eclb::dp
