// Encapsulation and ICMP construction on real mbufs: byte-exact outer headers, valid
// checksums computed independently, headroom failure, echo and too-big replies.
#include <gtest/gtest.h>

#include <cstring>

#include "dataplane/fastpath/encap.h"
#include "dataplane/fastpath/icmp.h"
#include "tests/unit/support/dpdk_test_env.h"
#include "tests/unit/support/packet_builder.h"

namespace eclb::dp {
namespace {

using test::build_frame;
using test::FrameSpec;
using test::inet_checksum;
using test::make_mbuf;

PacketView view_of(rte_mbuf* m) {
  PacketView view;
  const ParseResult result = parse_packet(rte_pktmbuf_mtod(m, const uint8_t*), rte_pktmbuf_data_len(m), view);
  EXPECT_NE(result.kind, PacketKind::kDrop);
  return view;
}

TEST(EncapTest, IpipIpv4IsByteExact) {
  FrameSpec spec;
  spec.payload = {'d', 'a', 't', 'a'};
  const auto frame = build_frame(spec);
  rte_mbuf* m = make_mbuf(frame);
  const PacketView view = view_of(m);
  const uint8_t src[4] = {10, 0, 0, 2}, dst[4] = {10, 0, 0, 11};
  ASSERT_TRUE(encapsulate(m, view, abi::ForwardMode::kDsrIpip, TunnelParams{src, dst, 0x1234, 6080, 0x0102}));
  const auto out = test::bytes_of(m);
  ASSERT_EQ(out.size(), frame.size() + 20);
  EXPECT_TRUE(std::equal(frame.begin(), frame.begin() + 14, out.begin())) << "L2 header kept in front";
  const uint8_t expected_outer[20] = {0x45, 0x00, 0x00, static_cast<uint8_t>(20 + frame.size() - 14), 0x01, 0x02,
                                      0x40, 0x00, 64, 4, 0, 0, 10, 0, 0, 2, 10, 0, 0, 11};
  uint8_t outer[20];
  std::memcpy(outer, out.data() + 14, 20);
  EXPECT_EQ(inet_checksum(outer, 20), 0) << "outer header checksum";
  outer[10] = outer[11] = 0;
  EXPECT_EQ(0, std::memcmp(outer, expected_outer, 20));
  EXPECT_TRUE(std::equal(frame.begin() + 14, frame.end(), out.begin() + 34)) << "inner packet untouched";
  rte_pktmbuf_free(m);
}

TEST(EncapTest, GueIpv6HasAValidUdpChecksumAndHashedPorts) {
  FrameSpec spec;
  spec.src = "2001:db8:ffff::1";
  spec.dst = "2001:db8::101";
  spec.payload = {1, 2, 3, 4, 5};
  const auto frame = build_frame(spec);
  rte_mbuf* m = make_mbuf(frame);
  const PacketView view = view_of(m);
  uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8}, dst[16] = {0x20, 0x01, 0x0d, 0xb8};
  src[15] = 2;
  dst[15] = 0x12;
  const uint64_t hash = 0xABCDEF0123456789ULL;
  ASSERT_TRUE(encapsulate(m, view, abi::ForwardMode::kDsrGue, TunnelParams{src, dst, hash, 6080, 0}));
  const auto out = test::bytes_of(m);
  ASSERT_EQ(out.size(), frame.size() + 48);
  const uint8_t* ip = out.data() + 14;
  EXPECT_EQ(ip[0] >> 4, 6);
  EXPECT_EQ((uint32_t{ip[1]} & 0x0F) << 16 | ip[2] << 8 | ip[3], hash & 0xFFFFF) << "flow label from the hash";
  EXPECT_EQ(ip[6], 17);
  EXPECT_EQ(ip[7], 64);
  const uint8_t* udp = ip + 40;
  EXPECT_EQ(udp[0] << 8 | udp[1], 0xC000 | ((hash >> 16) & 0x3FFF));
  EXPECT_EQ(udp[2] << 8 | udp[3], 6080);
  const size_t udp_length = out.size() - 14 - 40;
  EXPECT_EQ(static_cast<size_t>(udp[4] << 8 | udp[5]), udp_length);
  uint32_t pseudo = 17 + static_cast<uint32_t>(udp_length);
  for (int i = 8; i < 40; i += 2) pseudo += ip[i] << 8 | ip[i + 1];
  EXPECT_EQ(inet_checksum(udp, udp_length, pseudo), 0) << "UDP checksum over the IPv6 pseudo-header";
  rte_pktmbuf_free(m);
}

TEST(EncapTest, GueIpv6CanCarryAZeroUdpChecksum) {
  FrameSpec spec;
  spec.src = "2001:db8:ffff::1";
  spec.dst = "2001:db8::101";
  spec.payload = {1, 2, 3, 4, 5};
  rte_mbuf* m = make_mbuf(build_frame(spec));
  const PacketView view = view_of(m);
  uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8}, dst[16] = {0x20, 0x01, 0x0d, 0xb8};
  src[15] = 2;
  dst[15] = 0x12;
  ASSERT_TRUE(encapsulate(m, view, abi::ForwardMode::kDsrGue, TunnelParams{src, dst, 7, 6080, 0, true}));
  const auto out = test::bytes_of(m);
  const uint8_t* udp = out.data() + 14 + 40;
  EXPECT_EQ(udp[6], 0);
  EXPECT_EQ(udp[7], 0) << "RFC 6935: zero, not computed";
  EXPECT_EQ(udp[2] << 8 | udp[3], 6080);
  rte_pktmbuf_free(m);
}

TEST(EncapTest, EthernetPaddingIsTrimmedFirst) {
  auto frame = build_frame(FrameSpec{});
  const size_t unpadded = frame.size();
  frame.resize(60 + 4, 0);  // minimum frame plus garbage
  rte_mbuf* m = make_mbuf(frame);
  const PacketView view = view_of(m);
  const uint8_t src[4] = {10, 0, 0, 2}, dst[4] = {10, 0, 0, 11};
  ASSERT_TRUE(encapsulate(m, view, abi::ForwardMode::kDsrIpip, TunnelParams{src, dst, 0, 6080, 0}));
  EXPECT_EQ(rte_pktmbuf_pkt_len(m), unpadded + 20);
  rte_pktmbuf_free(m);
}

TEST(EncapTest, NoHeadroomLeavesThePacketUnchanged) {
  const auto frame = build_frame(FrameSpec{});
  rte_mbuf* m = make_mbuf(frame);
  rte_pktmbuf_adj(m, 0);
  m->data_off = 0;  // move the data to the start of the buffer: no headroom
  std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), frame.data(), frame.size());
  const PacketView view = view_of(m);
  const uint8_t src[4] = {10, 0, 0, 2}, dst[4] = {10, 0, 0, 11};
  EXPECT_FALSE(encapsulate(m, view, abi::ForwardMode::kDsrIpip, TunnelParams{src, dst, 0, 6080, 0}));
  EXPECT_EQ(test::bytes_of(m), frame);
  rte_pktmbuf_free(m);
}

TEST(EncapTest, AChainedMbufIsRefusedUnchanged) {
  // The worker drops chains on receipt; encapsulation sets a single segment's length outright.
  const auto frame = build_frame(FrameSpec{});
  rte_mbuf* m = make_mbuf(frame);
  const PacketView view = view_of(m);
  rte_mbuf* tail = make_mbuf(std::vector<uint8_t>(4, 0xEE));
  ASSERT_EQ(rte_pktmbuf_chain(m, tail), 0);
  const uint32_t length = rte_pktmbuf_pkt_len(m);
  const uint16_t offset = m->data_off;
  const uint8_t src[4] = {10, 0, 0, 2}, dst[4] = {10, 0, 0, 11};
  EXPECT_FALSE(encapsulate(m, view, abi::ForwardMode::kDsrIpip, TunnelParams{src, dst, 0, 6080, 0}));
  EXPECT_EQ(rte_pktmbuf_pkt_len(m), length);
  EXPECT_EQ(m->data_off, offset);
  rte_pktmbuf_free(m);
}

TEST(IcmpTest, EchoReplySwapsAddressesWithValidChecksums) {
  FrameSpec spec;
  spec.protocol = 1;
  spec.payload = {'p', 'i', 'n', 'g'};
  rte_mbuf* m = make_mbuf(build_frame(spec));
  const PacketView view = view_of(m);
  const uint8_t port_mac[6] = {2, 0, 0, 0, 0, 0x99};
  ASSERT_TRUE(make_echo_reply(m, view, port_mac));
  const auto out = test::bytes_of(m);
  EXPECT_EQ(0, std::memcmp(out.data(), "\x02\0\0\0\0\x10", 6)) << "back to the sender's MAC";
  EXPECT_EQ(0, std::memcmp(out.data() + 6, port_mac, 6));
  const uint8_t* ip = out.data() + 14;
  EXPECT_EQ(inet_checksum(ip, 20), 0);
  EXPECT_EQ(ip[12], 10);   // from the VIP
  EXPECT_EQ(ip[16], 198);  // to the client
  EXPECT_EQ(ip[20], 0);    // echo reply
  EXPECT_EQ(inet_checksum(ip + 20, out.size() - 34), 0);
  rte_pktmbuf_free(m);
}

TEST(IcmpTest, TooBigReplyQuotesTheHeadOfThePacket) {
  FrameSpec spec;
  spec.payload.assign(1400, 'x');
  const auto frame = build_frame(spec);
  rte_mbuf* m = make_mbuf(frame);
  const PacketView view = view_of(m);
  const uint8_t port_mac[6] = {2, 0, 0, 0, 0, 0x99};
  make_too_big_reply(m, view, 1480, port_mac);
  const auto out = test::bytes_of(m);
  ASSERT_EQ(out.size(), 14u + 576u) << "an ICMP error is at most 576 bytes of IP";
  const uint8_t* ip = out.data() + 14;
  EXPECT_EQ(inet_checksum(ip, 20), 0);
  EXPECT_EQ(ip[9], 1);
  const uint8_t* icmp = ip + 20;
  EXPECT_EQ(icmp[0], 3);
  EXPECT_EQ(icmp[1], 4);
  EXPECT_EQ(icmp[6] << 8 | icmp[7], 1480);
  EXPECT_EQ(inet_checksum(icmp, 576 - 20), 0);
  EXPECT_TRUE(std::equal(icmp + 8, icmp + 8 + 548, frame.begin() + 14)) << "quotes the original IP packet";
  rte_pktmbuf_free(m);
}

}  // namespace
}  // namespace eclb::dp

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new eclb::test::DpdkTestEnv);
  return RUN_ALL_TESTS();
}
