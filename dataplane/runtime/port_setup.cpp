// rte_ethdev configuration of one port.
#include "dataplane/runtime/port_setup.h"

#include "common/log.h"

#include <rte_ethdev.h>

#include <cstring>

#include "abi/rss.h"

namespace eclb::dp {

Result<PortInfo> setup_port(uint16_t port_id, uint16_t queues, rte_mempool* pool) {
  if (!rte_eth_dev_is_valid_port(port_id)) {
    return make_error("port {} does not exist ({} DPDK ports: check --vdev / -a)", port_id, rte_eth_dev_count_avail());
  }
  rte_eth_dev_info info{};
  if (const int rc = rte_eth_dev_info_get(port_id, &info); rc != 0) {
    return make_error("port {}: cannot read device info: {}", port_id, rte_strerror(-rc));
  }
  if (info.max_rx_queues < queues || info.max_tx_queues < queues) {
    return make_error("port {} ({}) has {} RX / {} TX queues, {} worker lcores need one each", port_id,
                      info.driver_name, info.max_rx_queues, info.max_tx_queues, queues);
  }
  rte_eth_conf conf{};
  // IPv4 header checksums checked by the NIC where it can (the worker reads the verdict
  // from the mbuf; without it the worker computes the sum).
  conf.rxmode.offloads = info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
  bool rss = false;
  if (queues > 1) {
    conf.rx_adv_conf.rss_conf.rss_hf =
        info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
    rss = conf.rx_adv_conf.rss_conf.rss_hf != 0;
    // Without RSS (memif, ring) the sender picks the queue. DSR stays correct either way:
    // a flow seen by two workers gets the same Maglev pick from both. With RSS our own key
    // is programmed, so fullnat can pick local ports whose replies reach the same worker.
    if (rss) {
      conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
      conf.rx_adv_conf.rss_conf.rss_key = const_cast<uint8_t*>(abi::kRssKey);
      conf.rx_adv_conf.rss_conf.rss_key_len = sizeof abi::kRssKey;
    }
  }
  if (const int rc = rte_eth_dev_configure(port_id, queues, queues, &conf); rc != 0) {
    return make_error("port {}: configure failed: {}", port_id, rte_strerror(-rc));
  }
  uint16_t rx_descriptors = kRxDescriptors, tx_descriptors = kTxDescriptors;
  rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &rx_descriptors, &tx_descriptors);
  const int socket = rte_eth_dev_socket_id(port_id);
  const unsigned socket_id = socket < 0 ? 0 : static_cast<unsigned>(socket);
  for (uint16_t q = 0; q < queues; ++q) {
    if (const int rc = rte_eth_rx_queue_setup(port_id, q, rx_descriptors, socket_id, nullptr, pool); rc != 0) {
      return make_error("port {}: RX queue {} setup failed: {}", port_id, q, rte_strerror(-rc));
    }
    if (const int rc = rte_eth_tx_queue_setup(port_id, q, tx_descriptors, socket_id, nullptr); rc != 0) {
      return make_error("port {}: TX queue {} setup failed: {}", port_id, q, rte_strerror(-rc));
    }
  }
  if (const int rc = rte_eth_dev_start(port_id); rc != 0) {
    return make_error("port {}: start failed: {}", port_id, rte_strerror(-rc));
  }
  // No promiscuous mode: VIP traffic is unicast to the port's MAC (clients and routers
  // resolve VIPs to it), and unicast to other MACs is a counted drop (foreign_mac).
  rte_eth_allmulticast_enable(port_id);  // IPv6 neighbour solicitations go to multicast groups

  PortInfo port;
  if (rss && info.reta_size > 0 && info.reta_size <= 512) {
    rte_eth_rss_reta_entry64 reta[512 / RTE_ETH_RETA_GROUP_SIZE] = {};
    for (auto& group : reta) group.mask = ~uint64_t{0};
    if (rte_eth_dev_rss_reta_query(port_id, reta, info.reta_size) == 0) {
      port.reta.resize(info.reta_size);
      for (uint16_t i = 0; i < info.reta_size; ++i) {
        port.reta[i] = reta[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE];
      }
    }
  }
  port.port_id = port_id;
  port.queues = queues;
  port.driver = info.driver_name;
  port.if_index = info.if_index;
  port.rss = rss;
  uint16_t mtu = 0;
  if (rte_eth_dev_get_mtu(port_id, &mtu) == 0 && mtu >= 576) port.mtu = mtu;
  rte_ether_addr mac{};
  rte_eth_macaddr_get(port_id, &mac);
  std::memcpy(port.mac, mac.addr_bytes, 6);
  return port;
}

Result<void> setup_exception_port(uint16_t port_id, uint16_t tx_queues, rte_mempool* pool, const uint8_t (&mac)[6]) {
  if (!rte_eth_dev_is_valid_port(port_id)) {
    return make_error("exception port {} does not exist ({} DPDK ports: add e.g. --vdev net_tap0,iface=eclb0)", port_id,
                      rte_eth_dev_count_avail());
  }
  rte_eth_dev_info info{};
  if (const int rc = rte_eth_dev_info_get(port_id, &info); rc != 0) {
    return make_error("exception port {}: cannot read device info: {}", port_id, rte_strerror(-rc));
  }
  if (info.max_tx_queues < tx_queues || info.max_rx_queues < tx_queues) {
    return make_error("exception port {} ({}) has {} RX / {} TX queues, {} are needed (workers + 1)", port_id,
                      info.driver_name, info.max_rx_queues, info.max_tx_queues, tx_queues);
  }
  // net_tap wants as many RX as TX queues (a multi-queue TAP: the kernel spreads its
  // sending over them); the control lcore reads them all.
  rte_eth_conf conf{};
  if (const int rc = rte_eth_dev_configure(port_id, tx_queues, tx_queues, &conf); rc != 0) {
    return make_error("exception port {}: configure failed: {}", port_id, rte_strerror(-rc));
  }
  const int socket = rte_eth_dev_socket_id(port_id);
  const unsigned socket_id = socket < 0 ? 0 : static_cast<unsigned>(socket);
  for (uint16_t q = 0; q < tx_queues; ++q) {
    if (const int rc = rte_eth_rx_queue_setup(port_id, q, 512, socket_id, nullptr, pool); rc != 0) {
      return make_error("exception port {}: RX queue {} setup failed: {}", port_id, q, rte_strerror(-rc));
    }
  }
  for (uint16_t q = 0; q < tx_queues; ++q) {
    if (const int rc = rte_eth_tx_queue_setup(port_id, q, 512, socket_id, nullptr); rc != 0) {
      return make_error("exception port {}: TX queue {} setup failed: {}", port_id, q, rte_strerror(-rc));
    }
  }
  rte_ether_addr address{};
  std::memcpy(address.addr_bytes, mac, 6);
  if (const int rc = rte_eth_dev_default_mac_addr_set(port_id, &address); rc == -ENOTSUP) {
    log::warn("dp.runtime", "exception port {} cannot take the NIC's MAC (driver {}): give the kernel's "
                            "interface that MAC yourself", port_id, info.driver_name);
  } else if (rc != 0) {
    return make_error("exception port {}: cannot set its MAC to the NIC's: {}", port_id, rte_strerror(-rc));
  }
  if (const int rc = rte_eth_dev_start(port_id); rc != 0) {
    return make_error("exception port {}: start failed: {}", port_id, rte_strerror(-rc));
  }
  rte_eth_dev_set_link_up(port_id);
  return success();
}

void stop_port(uint16_t port_id) noexcept {
  rte_eth_dev_stop(port_id);
  rte_eth_dev_close(port_id);
}

}  // namespace eclb::dp
