// L7 routing: pins reach exactly their gateway or fail clearly; the rest follows Maglev
// with the dataplane's flow hash.
#include "control/l7/l7_router.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <set>

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
  EXPECT_TRUE(route(head("/vm2/")).pinned);
  EXPECT_EQ(route(head("/vm2/")).target, "/");
}

// The table of the issue, the nginx image's answers (nginx_parity checks them against
// nginx itself).
TEST_F(L7RouterTest, RoutesAsTheImageDoes) {
  // Header values: blanks around them ignored, names without regard to case.
  EXPECT_EQ(route(head("/agent", {{"X-Server-Select", "vm2 "}})).backend_name, "vm2");
  EXPECT_EQ(route(head("/agent", {{"X-Server-Select", "VM2"}})).backend_name, "vm2");
  // The path pin wins over the header, even a bogus one.
  RouteDecision d = route(head("/vm1/x", {{"X-Server-Select", "vm2"}}));
  EXPECT_EQ(d.backend_name, "vm1");
  EXPECT_EQ(d.target, "/x");
  EXPECT_EQ(route(head("/vm1/x", {{"X-Server-Select", "bogus"}})).backend_name, "vm1");
  // The path is normalised before matching, and the normalised rest is sent.
  for (const char* target : {"/vm2/../vm1/x", "//vm1/x", "/%76m1/x", "/./vm1/./x", "/vm1//x"}) {
    d = route(head(target));
    EXPECT_EQ(d.status, 0) << target;
    EXPECT_EQ(d.backend_name, "vm1") << target;
    EXPECT_EQ(d.target, "/x") << target;
  }
  // "/vm2" is not under "/vm2/": a redirect there, the query kept.
  d = route(head("/vm2"));
  EXPECT_EQ(d.status, 301);
  EXPECT_EQ(d.location, "/vm2/");
  EXPECT_EQ(route(head("/vm2?x=1")).location, "/vm2/?x=1");
  // Unknown pins stay refused.
  EXPECT_EQ(route(head("/agent", {{"X-Server-Select", "bogus"}})).status, 502);
}

TEST(NormalizeTargetTest, FollowsRfc3986DotSegmentsAndMergesSlashes) {
  EXPECT_EQ(normalize_target("/"), "/");
  EXPECT_EQ(normalize_target("/a/b/../c"), "/a/c");
  EXPECT_EQ(normalize_target("/a/./b/"), "/a/b/");
  EXPECT_EQ(normalize_target("/../../a"), "/a") << "never above the root";
  EXPECT_EQ(normalize_target("/a/.."), "/");
  EXPECT_EQ(normalize_target("/a/b/.."), "/a/");
  EXPECT_EQ(normalize_target("//a///b"), "/a/b");
  EXPECT_EQ(normalize_target("/%61%2Fb?q=/../x"), "/a%2Fb?q=/../x") << "only unreserved decoded; the query kept";
  EXPECT_EQ(normalize_target("/a%"), "/a%");
}

TEST_F(L7RouterTest, AfterARefusedConnectionTheNextGatewayOfTheMaglevOrder) {
  tables_.vips[0].members[2].state = abi::BackendState::kUp;
  for (uint32_t s = 0; s < 251; ++s) tables_.vips[0].slots[s] = s % 3;  // vm1, vm2, vm3
  RouteDecision d = route(head("/agent"));
  ASSERT_EQ(d.status, 0);
  std::vector<Endpoint> tried{d.backend};
  const RouteDecision first = d;
  ASSERT_TRUE(next_gateway(&tables_, "agents", d, tried));
  EXPECT_NE(d.backend, first.backend);
  EXPECT_EQ(d.slot, (first.slot + 1) % 251) << "the next slot holds the next member";
  tried.push_back(d.backend);
  ASSERT_TRUE(next_gateway(&tables_, "agents", d, tried));
  tried.push_back(d.backend);
  EXPECT_EQ(std::set<Endpoint>(tried.begin(), tried.end()).size(), 3u);
  EXPECT_FALSE(next_gateway(&tables_, "agents", d, tried)) << "every gateway tried";
  RouteDecision again = first;
  std::vector<Endpoint> tried_again{first.backend};
  ASSERT_TRUE(next_gateway(&tables_, "agents", again, tried_again));
  EXPECT_EQ(again.backend, tried[1]) << "deterministic";
  RouteDecision pinned = route(head("/vm1/x"));
  EXPECT_FALSE(next_gateway(&tables_, "agents", pinned, {pinned.backend})) << "a pin never moves";
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
