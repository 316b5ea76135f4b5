// The announcement rules, one by one: what makes a VIP address announced or withdrawn.
#include "control/announce/announce_policy.h"

#include <gtest/gtest.h>

namespace eclb::ctl {
namespace {

VipServing vip(const std::string& name, const std::string& address, uint32_t up = 3, uint32_t backends = 3) {
  VipServing serving;
  serving.name = name;
  serving.address = *IpAddress::parse(address);
  serving.backends = backends;
  serving.up = up;
  return serving;
}

AnnounceInputs forwarding() {
  AnnounceInputs inputs;
  inputs.dataplane = {true, 50, 7};
  inputs.published_generation = 7;
  inputs.since_publish_ms = 5000;
  return inputs;
}

TEST(AnnouncePolicyTest, AServedSettledVipIsAnnounced) {
  AnnounceInputs inputs = forwarding();
  inputs.vips = {vip("web", "10.0.0.100")};
  const auto verdicts = decide_announcements(inputs);
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_TRUE(verdicts[0].announce);
  EXPECT_EQ(verdicts[0].reason, "serving");
}

TEST(AnnouncePolicyTest, TheDataplaneMustBeForwardingForL4Vips) {
  AnnounceInputs inputs = forwarding();
  inputs.vips = {vip("web", "10.0.0.100")};
  inputs.dataplane.heartbeat_age_ms = 1500;
  EXPECT_EQ(decide_announcements(inputs)[0].reason, "web: dataplane not forwarding (heartbeat 1.5 s old)");
  inputs.dataplane = {};
  EXPECT_EQ(decide_announcements(inputs)[0].reason, "web: no dataplane (no stats region)");
  // A generation behind: fine for a moment after a publication, not after.
  inputs = forwarding();
  inputs.vips = {vip("web", "10.0.0.100")};
  inputs.published_generation = 8;
  inputs.since_publish_ms = 40;
  EXPECT_TRUE(decide_announcements(inputs)[0].announce) << "the publication is on its way";
  inputs.since_publish_ms = 1500;
  EXPECT_EQ(decide_announcements(inputs)[0].reason, "web: dataplane at table generation 7, published 8");
  // An L7 VIP needs the listener, not the dataplane.
  inputs.dataplane = {};
  VipServing l7 = vip("agents", "10.0.0.101");
  l7.l7 = true;
  l7.listener_up = true;
  inputs.vips = {l7};
  EXPECT_TRUE(decide_announcements(inputs)[0].announce);
  inputs.vips[0].listener_up = false;
  EXPECT_EQ(decide_announcements(inputs)[0].reason, "agents: not listening");
}

TEST(AnnouncePolicyTest, MinUpAndSettlingBeforeTheFirstAnnouncement) {
  AnnounceInputs inputs = forwarding();
  inputs.min_up = 2;
  inputs.vips = {vip("web", "10.0.0.100", 1)};
  EXPECT_EQ(decide_announcements(inputs)[0].reason, "web: 1 of 3 backends up, min_up 2");
  inputs.vips = {vip("web", "10.0.0.100", 3)};
  inputs.vips[0].unsettled = "vm2 rising";
  EXPECT_EQ(decide_announcements(inputs)[0].reason, "web: health not settled (vm2 rising)");
  inputs.announced = {"10.0.0.100"};
  EXPECT_TRUE(decide_announcements(inputs)[0].announce) << "an announced VIP stays through a backend's flap";
}

TEST(AnnouncePolicyTest, TheOperatorWithdrawsOneVipOrAll) {
  AnnounceInputs inputs = forwarding();
  inputs.vips = {vip("web", "10.0.0.100"), vip("dns", "10.0.0.53")};
  inputs.withdrawn = {"web"};
  auto verdicts = decide_announcements(inputs);
  ASSERT_EQ(verdicts.size(), 2u);
  EXPECT_TRUE(verdicts[0].announce) << verdicts[0].address.to_string();  // 10.0.0.53 sorts first
  EXPECT_EQ(verdicts[1].reason, "web: withdrawn by the operator");
  inputs.withdrawn.clear();
  inputs.withdrawn_all = true;
  for (const auto& verdict : decide_announcements(inputs)) EXPECT_FALSE(verdict.announce);
}

TEST(AnnouncePolicyTest, AnAddressNeedsEveryVipOnIt) {
  // 10.0.0.100 carries a fullnat VIP on 80 and an L7 VIP on 443: one route for both.
  AnnounceInputs inputs = forwarding();
  VipServing l7 = vip("agents", "10.0.0.100");
  l7.l7 = true;
  l7.listener_up = true;
  inputs.vips = {vip("web", "10.0.0.100", 0), l7};
  const auto verdicts = decide_announcements(inputs);
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_FALSE(verdicts[0].announce);
  EXPECT_EQ(verdicts[0].reason, "web: 0 of 3 backends up, min_up 1");
  ASSERT_EQ(verdicts[0].vips.size(), 2u);
  EXPECT_TRUE(verdicts[0].vips[1].ok);
}

TEST(AnnouncePolicyTest, ACutOffHostWithdrawsWhileItsPeersReachTheBackends) {
  AnnounceInputs inputs = forwarding();
  inputs.vips = {vip("web", "10.0.0.100", 2)};
  inputs.vips[0].reached_by_peers = "10.0.0.21:80 (up at lb2, lb3)";
  inputs.announced = {"10.0.0.100"};
  auto verdicts = decide_announcements(inputs);
  EXPECT_FALSE(verdicts[0].announce) << "still min_up, but its table would differ from theirs";
  EXPECT_EQ(verdicts[0].reason, "web: cut off from backends its peers reach: 10.0.0.21:80 (up at lb2, lb3)");
  // An L7 VIP ends its connections here and retries other gateways: it stays.
  VipServing l7 = vip("agents", "10.0.0.101", 2);
  l7.l7 = true;
  l7.listener_up = true;
  l7.reached_by_peers = "10.0.0.21:80 (up at lb2)";
  inputs.vips = {l7};
  EXPECT_TRUE(decide_announcements(inputs)[0].announce);
}

}  // namespace
}  // namespace eclb::ctl
