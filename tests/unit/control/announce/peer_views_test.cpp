// Peers' views of the backends: parsing a /state answer, and when a backend that is down
// here counts as reached by the peers (announce.peer_check).
#include "control/announce/peer_views.h"

#include <gtest/gtest.h>

namespace eclb::ctl {
namespace {

const Endpoint kGw1 = *Endpoint::parse("10.0.0.21:80");
const Endpoint kGw2 = *Endpoint::parse("10.0.0.22:80");

PeerView peer(const std::string& host, bool announced, bool gw1_up, bool gw1_probe_ok = true, bool diverged = false) {
  PeerView view;
  view.host = host;
  view.vips.push_back({"web", announced, diverged, {{kGw1, gw1_up, gw1_probe_ok}, {kGw2, true, true}}});
  return view;
}

TEST(PeerViewsTest, ParsesAStateAnswer) {
  auto view = parse_peer_view(R"({"host": "lb2", "generation": 4, "vips": [
      {"name": "web", "announced": true, "diverged": false, "backends": [
        {"endpoint": "10.0.0.21:80", "up": true, "probe_ok": false},
        {"endpoint": "[2001:db8::1]:443", "up": false, "probe_ok": false}]},
      {"name": "old"}]})");
  ASSERT_TRUE(view.ok()) << view.error().message;
  EXPECT_EQ(view->host, "lb2");
  ASSERT_EQ(view->vips.size(), 2u);
  EXPECT_TRUE(view->vips[0].announced);
  ASSERT_EQ(view->vips[0].backends.size(), 2u);
  EXPECT_EQ(view->vips[0].backends[0].endpoint, kGw1);
  EXPECT_TRUE(view->vips[0].backends[0].up);
  EXPECT_FALSE(view->vips[0].backends[0].probe_ok);
  EXPECT_EQ(view->vips[0].backends[1].endpoint.to_string(), "[2001:db8::1]:443");
  EXPECT_FALSE(view->vips[1].announced) << "an answer without announcements announces nothing";
  EXPECT_TRUE(view->vips[1].backends.empty()) << "an older peer: no word on the backends";
}

TEST(PeerViewsTest, RejectsWhatIsNotAState) {
  EXPECT_FALSE(parse_peer_view("").ok());
  EXPECT_FALSE(parse_peer_view("<html>").ok());
  EXPECT_FALSE(parse_peer_view(R"({"vips": 3})").ok());
  EXPECT_FALSE(parse_peer_view(R"({"vips": [{"backends": []}]})").ok());
  EXPECT_FALSE(parse_peer_view(R"({"vips": [{"name": "w", "backends": [{"endpoint": "nonsense"}]}]})").ok());
  EXPECT_FALSE(parse_peer_view(R"({"vips": [{"name": "w", "backends": [{"up": true}]}]})").ok());
}

TEST(PeerViewsTest, ABackendTheAnnouncingPeersReachIsReached) {
  const auto reached = reached_by_peers("web", {kGw1}, {peer("lb2", true, true), peer("lb3", true, true)});
  ASSERT_EQ(reached.size(), 1u);
  EXPECT_EQ(reached[0].endpoint, kGw1);
  EXPECT_EQ(describe(reached), "10.0.0.21:80 (up at lb2, lb3)");
  EXPECT_TRUE(reached_by_peers("other", {kGw1}, {peer("lb2", true, true)}).empty()) << "another VIP";
  EXPECT_TRUE(reached_by_peers("web", {}, {peer("lb2", true, true)}).empty()) << "nothing down here";
}

TEST(PeerViewsTest, ADyingBackendFailsThePeersChecksToo) {
  // Down at the peers, or up in their tables with their latest check failing (their
  // fall not complete yet): the backend is dying, not this host cut off.
  EXPECT_TRUE(reached_by_peers("web", {kGw1}, {peer("lb2", true, false), peer("lb3", true, false)}).empty());
  EXPECT_TRUE(reached_by_peers("web", {kGw1}, {peer("lb2", true, true, false), peer("lb3", true, true, false)}).empty());
  // Opinions split evenly: not enough to leave the tier.
  EXPECT_TRUE(reached_by_peers("web", {kGw1}, {peer("lb2", true, true), peer("lb3", true, false)}).empty());
  // Two of three peers reach it.
  EXPECT_EQ(reached_by_peers("web", {kGw1}, {peer("lb2", true, true), peer("lb3", true, true), peer("lb4", true, false)})
                .size(),
            1u);
}

TEST(PeerViewsTest, OnlyPeersThatCarryTheVipAndSeeItWholeCount) {
  // A peer that does not announce the VIP cannot take its flows.
  EXPECT_TRUE(reached_by_peers("web", {kGw1}, {peer("lb2", false, true)}).empty());
  // A peer cut off from other backends itself: when two hosts are cut off from
  // different backends, neither leaves on the other's word (both would withdraw).
  EXPECT_TRUE(reached_by_peers("web", {kGw1}, {peer("lb2", true, true, true, /*diverged=*/true)}).empty());
  // No answers at all (no peers, or none answering): this host decides alone.
  EXPECT_TRUE(reached_by_peers("web", {kGw1}, {}).empty());
}

}  // namespace
}  // namespace eclb::ctl
