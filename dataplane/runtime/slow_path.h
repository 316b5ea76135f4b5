// SlowPath: the dataplane's control lcore work on neighbours. It answers ARP and IPv6
// neighbour solicitations for the balancer's local addresses and VIPs, resolves the
// next-hop MAC of every backend (the backend itself when on-link, else the port's
// gateway) with periodic refresh and expiry, and publishes the MACs to the workers'
// NeighbourTables. Runs on the main lcore only; never on the per-packet path.
#pragma once

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "common/ip_address.h"
#include "common/table_view.h"
#include "abi/flow_region.h"
#include "dataplane/fastpath/neighbour_table.h"

namespace eclb::dp {

struct SlowPathPort {
  uint16_t port_id = 0;
  uint8_t mac[6] = {};
  std::optional<IpPrefix> ipv4;
  std::optional<IpPrefix> ipv6;
  std::optional<IpAddress> gateway_ipv4;
  std::optional<IpAddress> gateway_ipv6;
  NeighbourTable* neighbours = nullptr;
  std::vector<std::pair<IpAddress, std::array<uint8_t, 6>>> static_neighbours;
  std::vector<IpAddress> nat_addresses;  // fullnat sources: answered to ARP / ND like local addresses
  bool has_exception = false;  // ARP / ND that is not ours goes to the kernel (exception port)
};

struct SlowPathCounters {
  uint64_t arp_replies = 0;
  uint64_t na_sent = 0;
  uint64_t requests_sent = 0;
  uint64_t learned = 0;
  uint64_t ignored = 0;
  uint64_t to_kernel = 0;  // handed to the exception port
  uint64_t dropped = 0;    // not ours, and no exception port to hand it to
};

class SlowPath {
 public:
  // Timers (milliseconds): a neighbour is re-probed once its last confirmation is older
  // than kRefreshAfterMs, probed every kProbeIntervalMs while unknown, and forgotten
  // (its backends stop receiving packets, counted as neighbour_unresolved) when
  // unconfirmed for kLostAfterMs.
  static constexpr uint64_t kRefreshAfterMs = 30000;
  static constexpr uint64_t kRefreshIntervalMs = 5000;
  static constexpr uint64_t kProbeIntervalMs = 1000;
  static constexpr uint64_t kLostAfterMs = 60000;

  // `cache`: the flow region's neighbour cache (may be empty). The next hops a previous
  // run resolved and confirmed within kLostAfterMs are known from the start (published by
  // the first tick(), before any worker forwards), and tick() keeps the cache current.
  SlowPath(std::vector<SlowPathPort> ports, rte_mempool* pool, std::span<abi::FlowNeighbour> cache = {},
           uint64_t now_ms = 0);

  // An ARP or ND frame handed over by a worker. Replies go to `out`; frames for the
  // kernel (not about our addresses, on a port with an exception port) to `kernel`; the
  // mbuf is reused, passed on or freed.
  void handle(rte_mbuf* m, const TableView& table, uint64_t now_ms, std::vector<rte_mbuf*>& out,
              std::vector<rte_mbuf*>& kernel);
  // Resolution and publication for the backends of `table`; requests go to `out`.
  void tick(const TableView& table, uint64_t now_ms, std::vector<rte_mbuf*>& out);

  const SlowPathCounters& counters() const noexcept { return counters_; }
  size_t adopted_neighbours() const noexcept { return adopted_; }

 private:
  struct Neighbour {
    uint8_t mac[6] = {};
    bool known = false;
    uint64_t confirmed_ms = 0;
    uint64_t probed_ms = 0;
    uint64_t wanted_ms = 0;
    bool permanent = false;  // configured: never probed, never lost
  };
  struct PortState {
    SlowPathPort port;
    std::map<IpAddress, Neighbour> neighbours;
  };

  PortState* port_of(uint16_t port_id);
  std::optional<IpAddress> next_hop(const PortState& state, const IpAddress& backend) const;
  bool owns_address(const PortState& state, const IpAddress& address, const TableView& table) const;
  // The port's own or a fullnat address: what the dataplane itself sends from.
  bool is_local(const PortState& state, const IpAddress& address) const;
  // Frees `m`, or passes it to the kernel when the port has an exception port.
  void release(const PortState& state, rte_mbuf* m, std::vector<rte_mbuf*>& kernel);
  void learn(PortState& state, const IpAddress& address, const uint8_t* mac, uint64_t now_ms);
  void handle_arp(PortState& state, rte_mbuf* m, uint32_t l3, const TableView& table, uint64_t now_ms,
                  std::vector<rte_mbuf*>& out, std::vector<rte_mbuf*>& kernel);
  void handle_nd(PortState& state, rte_mbuf* m, uint32_t l3, uint32_t l4, const TableView& table, uint64_t now_ms,
                 std::vector<rte_mbuf*>& out, std::vector<rte_mbuf*>& kernel);
  rte_mbuf* build_request(const PortState& state, const IpAddress& target);
  void adopt(uint64_t now_ms);
  void persist();

  std::vector<std::unique_ptr<PortState>> ports_;
  rte_mempool* pool_;
  SlowPathCounters counters_;
  std::span<abi::FlowNeighbour> cache_;
  size_t adopted_ = 0;
};

}  // namespace eclb::dp
