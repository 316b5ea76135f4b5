// A DPDK environment for fast-path unit tests: EAL without hugepages or PCI, one
// loopback ring port with kQueues queue pairs (net_ring0: what is transmitted on queue q
// comes back on RX queue q) and an mbuf pool, plus helpers to turn bytes into mbufs and
// back.
#pragma once

#include <gtest/gtest.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <cstring>
#include <string>
#include <vector>

namespace eclb::test {

class DpdkTestEnv : public ::testing::Environment {
 public:
  static constexpr uint16_t kQueues = 4;
  static rte_mempool* pool() { return pool_; }
  static uint16_t port() { return port_; }

  void SetUp() override {
    std::vector<std::string> args{"eclb-test", "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
                                  "--log-level=error", "-l", "0", "--vdev=net_ring0"};
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    ASSERT_GE(rte_eal_init(static_cast<int>(argv.size()), argv.data()), 0) << "EAL init failed";
    pool_ = rte_pktmbuf_pool_create("test_pool", 8191, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    ASSERT_NE(pool_, nullptr);
    ASSERT_EQ(rte_eth_dev_count_avail(), 1u);
    port_ = 0;
    rte_eth_conf conf{};
    ASSERT_EQ(rte_eth_dev_configure(port_, kQueues, kQueues, &conf), 0);
    for (uint16_t q = 0; q < kQueues; ++q) {
      ASSERT_EQ(rte_eth_rx_queue_setup(port_, q, 1024, 0, nullptr, pool_), 0);
      ASSERT_EQ(rte_eth_tx_queue_setup(port_, q, 1024, 0, nullptr), 0);
    }
    ASSERT_EQ(rte_eth_dev_start(port_), 0);
  }

 private:
  static inline rte_mempool* pool_ = nullptr;
  static inline uint16_t port_ = 0;
};

inline rte_mbuf* make_mbuf(const std::vector<uint8_t>& bytes) {
  rte_mbuf* m = rte_pktmbuf_alloc(DpdkTestEnv::pool());
  if (m == nullptr) return nullptr;
  auto* data = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(bytes.size())));
  std::memcpy(data, bytes.data(), bytes.size());
  m->port = DpdkTestEnv::port();
  return m;
}

inline std::vector<uint8_t> bytes_of(const rte_mbuf* m) {
  const auto* data = rte_pktmbuf_mtod(m, const uint8_t*);
  return {data, data + rte_pktmbuf_data_len(m)};
}

// Everything transmitted on the loopback port since the last call.
inline std::vector<std::vector<uint8_t>> drain_port() {
  std::vector<std::vector<uint8_t>> frames;
  rte_mbuf* packets[64];
  for (uint16_t q = 0; q < DpdkTestEnv::kQueues; ++q) {
    for (;;) {
      const uint16_t count = rte_eth_rx_burst(DpdkTestEnv::port(), q, packets, 64);
      for (uint16_t i = 0; i < count; ++i) {
        frames.push_back(bytes_of(packets[i]));
        rte_pktmbuf_free(packets[i]);
      }
      if (count == 0) break;
    }
  }
  return frames;
}

}  // namespace eclb::test
