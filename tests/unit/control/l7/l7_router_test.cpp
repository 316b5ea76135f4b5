// L7 routing: pins reach exactly their gateway or fail clearly; the rest follows Maglev
// with the dataplane's flow hash.
#include "control/l7/l7_router.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "control/core/maglev_table.h"
#include "abi/flow_hash.h"

namespace eclb::ctl {
namespace {

Endpoint endpoint(const char* text) { return *Endpoint::parse(text); }

RequestHead head(std::string target, std::vector<std::pair<std::string, std::string>> headers = {}) {
  RequestHead h;
  h.method = "GET";
  h.target = std::move(target);
  h.headers = std::move(headers);
  return h;
}

class L7RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tables_.flow_hash_seed = 0x1234;
    VipContent vip;
    vip.name = "agents";
    vip.endpoint = endpoint("10.0.0.100:443");
    vip.mode = abi::ForwardMode::kL7Proxy;
    vip.table_size = 251;
    vip.members = {{"vm1", endpoint("10.0.0.21:8080"), 1, abi::BackendState::kUp},
                   {"vm2", endpoint("10.0.0.22:8080"), 1, abi::BackendState::kUp},
                   {"vm3", endpoint("10.0.0.23:8080"), 1, abi::BackendState::kDown},
                   {"vm4", endpoint("10.0.0.24:8080"), 1, abi::BackendState::kDrained}};
    vip.slots.assign(vip.table_size, 0);
    for (uint32_t s = 0; s < vip.table_size; ++s) vip.slots[s] = s % 2;  // vm1 and vm2 own the slots
    tables_.vips.push_back(vip);
  }
  RouteDecision route(const RequestHead& h, const char* client = "192.0.2.7:40000") {
    return route_request(&tables_, "agents", endpoint(client), endpoint("10.0.0.100:443"), h);
  }
  TableContent tables_;
};

TEST_F(L7RouterTest, HeaderPinByNameOrAddressReachesThatGateway) {
  RouteDecision d = route(head("/agent", {{"x-server-select", "vm2"}}));
  EXPECT_EQ(d.status, 0);
  EXPECT_TRUE(d.pinned);
  EXPECT_EQ(d.backend_name, "vm2");
  EXPECT_EQ(d.target, "/agent");
  d = route(head("/agent", {{"X-Server-Select", "10.0.0.21:8080"}}));
  EXPECT_EQ(d.backend_name, "vm1");
}

TEST_F(L7RouterTest, PathPinStripsThePrefix) {
  EXPECT_EQ(route(head("/vm1/agent?id=3")).target, "/agent?id=3");
  EXPECT_EQ(route(head("/vm1/agent?id=3")).backend_name, "vm1");
  EXPECT_EQ(route(head("/vm2")).target, "/");
  EXPECT_EQ(route(head("/vm2?x=1")).target, "/?x=1");
  EXPECT_TRUE(route(head("/vm2/")).pinned);
  EXPECT_EQ(route(head("/vm2/")).target, "/");
}

TEST_F(L7RouterTest, UnknownPinIs502AndUnavailablePinIs503NeverAnotherGateway) {
  RouteDecision d = route(head("/agent", {{"X-Server-Select", "vm9"}}));
  EXPECT_EQ(d.status, 502);
  EXPECT_TRUE(d.backend_name.empty());
  EXPECT_EQ(route(head("/vm9/agent")).status, 502);  // looks like a gateway name: a pin
  d = route(head("/vm3/agent"));
  EXPECT_EQ(d.status, 503);
  EXPECT_NE(d.error.find("down"), std::string::npos);
  d = route(head("/agent", {{"X-Server-Select", "vm4"}}));
  EXPECT_EQ(d.status, 503);
  EXPECT_NE(d.error.find("drained"), std::string::npos);
}

TEST_F(L7RouterTest, UnpinnedRequestsFollowTheMaglevSlotOfTheFlowHash) {
  std::map<std::string, int> seen;
  for (uint16_t port = 40000; port < 40200; ++port) {
    const std::string client = fmt::format("192.0.2.7:{}", port);
    const RouteDecision d = route(head("/agent"), client.c_str());
    ASSERT_EQ(d.status, 0);
    EXPECT_FALSE(d.pinned);
    abi::FlowKey key{};
    key.family = abi::AddressFamily::kIpv4;
    const uint8_t src[4] = {192, 0, 2, 7}, dst[4] = {10, 0, 0, 100};
    std::memcpy(key.src, src, 4);
    std::memcpy(key.dst, dst, 4);
    key.src_port_be = htons(port);
    key.dst_port_be = htons(443);
    key.protocol = 6;
    const uint32_t slot = tables_.vips[0].slots[abi::flow_hash(key, 0x1234) % 251];
    EXPECT_EQ(d.backend_name, tables_.vips[0].members[slot].name);
    ++seen[d.backend_name];
  }
  EXPECT_EQ(seen.size(), 2u);  // both owners, never the down or drained ones
  EXPECT_EQ(route(head("/other")).target, "/other");
}

TEST_F(L7RouterTest, NoHealthyGatewayOrNoTableIs503) {
  tables_.vips[0].slots.assign(251, abi::kNoBackend);
  EXPECT_EQ(route(head("/agent")).status, 503);
  EXPECT_EQ(route_request(nullptr, "agents", endpoint("192.0.2.7:1"), endpoint("10.0.0.100:443"), head("/")).status, 503);
  EXPECT_EQ(route_request(&tables_, "nope", endpoint("192.0.2.7:1"), endpoint("10.0.0.100:443"), head("/")).status, 503);
}

}  // namespace
}  // namespace eclb::ctl
