// rewrite_tuple and clamp_mss: after every rewrite the IPv4 header and TCP/UDP checksums
// verify from scratch (computed independently by the test), for both families.
#include "dataplane/fastpath/nat_rewrite.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "tests/unit/support/packet_builder.h"

namespace eclb::dp {
namespace {

using test::build_frame;
using test::FrameSpec;
using test::inet_checksum;

PacketView parse(std::vector<uint8_t>& frame) {
  PacketView view;
  EXPECT_NE(parse_packet(frame.data(), static_cast<uint32_t>(frame.size()), view).kind, PacketKind::kDrop);
  return view;
}

// True if the L4 checksum of the frame's packet verifies over the pseudo-header.
bool l4_checksum_ok(const std::vector<uint8_t>& frame, const PacketView& view) {
  const bool v6 = view.key.family == abi::AddressFamily::kIpv6;
  const uint8_t* ip = frame.data() + view.l3_offset;
  const uint32_t l4_length = view.l3_length - (view.l4_offset - view.l3_offset);
  uint32_t pseudo = view.l4_protocol + l4_length;
  const uint32_t bytes = v6 ? 16 : 4;
  const uint8_t* src = ip + (v6 ? 8 : 12);
  for (uint32_t i = 0; i < 2 * bytes; i += 2) pseudo += src[i] << 8 | src[i + 1];
  return inet_checksum(frame.data() + view.l4_offset, l4_length, pseudo) == 0;
}

TEST(NatRewriteTest, Ipv4TcpChecksumsStayValid) {
  FrameSpec spec;
  spec.payload = {'a', 'b', 'c'};
  auto frame = build_frame(spec);
  const PacketView view = parse(frame);
  uint8_t local[16] = {10, 0, 0, 2}, backend[16] = {10, 0, 0, 13};
  rewrite_tuple(frame.data(), view, local, htons(40000), backend, htons(8080));
  const PacketView after = parse(frame);
  EXPECT_EQ(inet_checksum(frame.data() + 14, 20), 0);
  EXPECT_TRUE(l4_checksum_ok(frame, after));
  EXPECT_EQ(ntohs(after.key.src_port_be), 40000);
  EXPECT_EQ(ntohs(after.key.dst_port_be), 8080);
  EXPECT_EQ(after.key.dst[3], 13);
}

TEST(NatRewriteTest, TheHopLimitDropsByOneAndStopsAtOne) {
  FrameSpec spec;
  auto v4 = build_frame(spec);
  const PacketView view4 = parse(v4);
  ASSERT_TRUE(decrement_hop_limit(v4.data(), view4));
  EXPECT_EQ(v4[22], 60);
  EXPECT_EQ(inet_checksum(v4.data() + 14, 20), 0) << "the header checksum follows the TTL";
  v4[22] = 1;
  v4[24] = v4[25] = 0;
  const uint16_t sum = inet_checksum(v4.data() + 14, 20);
  v4[24] = static_cast<uint8_t>(sum >> 8);
  v4[25] = static_cast<uint8_t>(sum);
  const auto before = v4;
  EXPECT_FALSE(decrement_hop_limit(v4.data(), view4));
  EXPECT_EQ(v4, before) << "a packet that must die is left as it was";

  spec.src = "2001:db8:ffff::1";
  spec.dst = "2001:db8::100";
  auto v6 = build_frame(spec);
  const PacketView view6 = parse(v6);
  ASSERT_TRUE(decrement_hop_limit(v6.data(), view6));
  EXPECT_EQ(v6[21], 60);
  v6[21] = 1;
  EXPECT_FALSE(decrement_hop_limit(v6.data(), view6));
  EXPECT_EQ(v6[21], 1);
}

TEST(NatRewriteTest, Ipv6UdpChecksumStaysValid) {
  FrameSpec spec;
  spec.src = "2001:db8:ffff::1";
  spec.dst = "2001:db8::101";
  spec.protocol = 17;
  spec.payload = {1, 2, 3, 4, 5};
  auto frame = build_frame(spec);
  const PacketView view = parse(frame);
  uint8_t local[16] = {0x20, 0x01, 0x0d, 0xb8}, backend[16] = {0x20, 0x01, 0x0d, 0xb8};
  local[15] = 2;
  backend[15] = 0x13;
  rewrite_tuple(frame.data(), view, local, htons(40001), backend, htons(53));
  EXPECT_TRUE(l4_checksum_ok(frame, parse(frame)));
}

TEST(NatRewriteTest, UdpWithoutChecksumKeepsNone) {
  FrameSpec spec;
  spec.protocol = 17;
  auto frame = build_frame(spec);
  frame[14 + 20 + 6] = frame[14 + 20 + 7] = 0;  // IPv4 UDP: checksum "none"
  const PacketView view = parse(frame);
  uint8_t local[16] = {10, 0, 0, 2}, backend[16] = {10, 0, 0, 13};
  rewrite_tuple(frame.data(), view, local, htons(40000), backend, htons(53));
  EXPECT_EQ(frame[14 + 20 + 6], 0);
  EXPECT_EQ(frame[14 + 20 + 7], 0);
  EXPECT_EQ(inet_checksum(frame.data() + 14, 20), 0);
}

// A SYN with options: `leading` NOPs before MSS.
std::vector<uint8_t> syn_with_mss(uint16_t mss, int leading) {
  FrameSpec spec;
  spec.tcp_options = test::mss_option(mss, leading);
  return build_frame(spec);
}

TEST(NatRewriteTest, MssIsClampedWithAValidChecksumAtAnyAlignment) {
  for (int leading : {0, 1, 2, 3}) {
    auto frame = syn_with_mss(1460, leading);
    PacketView view = parse(frame);
    ASSERT_TRUE(l4_checksum_ok(frame, view)) << "fixture, leading " << leading;
    EXPECT_TRUE(clamp_mss(frame.data(), view, 1400)) << leading;
    const uint8_t* mss = frame.data() + 54 + leading + 2;
    EXPECT_EQ(mss[0] << 8 | mss[1], 1400) << leading;
    EXPECT_TRUE(l4_checksum_ok(frame, parse(frame))) << "leading " << leading;
    EXPECT_FALSE(clamp_mss(frame.data(), parse(frame), 1440)) << "already below the clamp";
  }
}

}  // namespace
}  // namespace eclb::dp
