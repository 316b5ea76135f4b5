// The L7 proxy with several event loops (l7.threads), on loopback: clients in parallel
// through a plain-HTTP l7 VIP to a local gateway while eclb-control's side reloads the
// config, republishes tables and reads the counters. Built twice: as a unit test and
// under ThreadSanitizer (l7_proxy_threads_tsan_test), where any data race between the
// loops, or between a loop and the control thread, fails it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "control/l7/l7_proxy.h"
#include "tests/unit/support/loopback_server.h"

namespace eclb::ctl {
namespace {

constexpr int kClients = 4;
constexpr int kRequestsPerClient = 40;

// One request through the VIP; the whole response.
std::string request(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    // One request per connection, read to the close.
    const std::string head = "GET /agent HTTP/1.1\r\nHost: watchers.test\r\nConnection: close\r\n\r\n";
    send(fd, head.data(), head.size(), MSG_NOSIGNAL);
    char buffer[4096];
    for (ssize_t n; (n = recv(fd, buffer, sizeof buffer, 0)) > 0;) response.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return response;
}

TEST(L7ProxyThreadsTest, ParallelClientsThroughTwoLoopsWhileTheControlThreadReloads) {
  test::LoopbackServer gateway([](const std::string&) {
    return std::string("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
  });
  const Endpoint vip = test::unused_loopback_port();
  const uint16_t vip_port = vip.port;
  const Endpoint backend = gateway.endpoint();

  Config config;
  VipConfig vip_config;
  vip_config.name = "agents";
  vip_config.endpoint = vip;
  vip_config.mode = abi::ForwardMode::kL7Proxy;
  vip_config.pool = "gateways";
  config.vips.push_back(vip_config);
  config.l7.threads = 2;

  auto tables = std::make_shared<TableContent>();
  tables->flow_hash_seed = 7;
  VipContent content;
  content.name = "agents";
  content.endpoint = vip;
  content.mode = abi::ForwardMode::kL7Proxy;
  content.table_size = 13;
  content.members = {{"vm1", backend, 1, abi::BackendState::kUp}};
  content.slots.assign(content.table_size, 0);
  tables->vips.push_back(content);

  auto proxy = L7Proxy::start(config.l7.threads);
  ASSERT_TRUE(proxy.ok()) << proxy.error().message;
  EXPECT_EQ((*proxy)->threads(), 2u);
  ASSERT_TRUE((*proxy)->configure(config).ok());
  (*proxy)->set_tables(tables);

  std::atomic<int> answered{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      for (int r = 0; r < kRequestsPerClient; ++r) {
        const std::string response = request(vip_port);
        if (response.find("200 OK") != std::string::npos && response.ends_with("ok")) ++answered;
      }
    });
  }
  // Meanwhile, what eclb-control's thread does: reloads, publications, metrics reads.
  for (int round = 0; round < 20; ++round) {
    EXPECT_TRUE((*proxy)->configure(config).ok());
    if (round % 2 == 0) (*proxy)->set_tables(std::make_shared<TableContent>(*tables));  // and reloads alone
    for (const auto& [name, counters] : (*proxy)->counters()) {
      EXPECT_LE(counters->routed.load(std::memory_order_relaxed), counters->accepted.load(std::memory_order_relaxed));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (std::thread& client : clients) client.join();

  EXPECT_EQ(answered.load(), kClients * kRequestsPerClient);
  const auto counters = (*proxy)->counters().at("agents");
  // Every connection counted once, whichever loop took it: counts from two threads
  // are not lost.
  EXPECT_EQ(counters->accepted.load(), static_cast<uint64_t>(kClients * kRequestsPerClient));
  EXPECT_EQ(counters->routed.load(), static_cast<uint64_t>(kClients * kRequestsPerClient));
  for (int i = 0; i < 100 && counters->active.load() != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(counters->active.load(), 0u);
}

}  // namespace
}  // namespace eclb::ctl
