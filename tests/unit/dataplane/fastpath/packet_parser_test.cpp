// parse_packet on hand-built frames: fields, VLAN, IPv6 extensions, and every drop reason.
#include "dataplane/fastpath/packet_parser.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <random>

#include "tests/unit/support/packet_builder.h"

namespace eclb::dp {
namespace {

using abi::DropReason;
using test::build_frame;
using test::FrameSpec;

ParseResult parse(const std::vector<uint8_t>& frame, PacketView& view) {
  view = PacketView{};
  return parse_packet(frame.data(), static_cast<uint32_t>(frame.size()), view);
}

TEST(PacketParserTest, Ipv4TcpFields) {
  PacketView view;
  FrameSpec spec;
  spec.payload = {1, 2, 3};
  const auto result = parse(build_frame(spec), view);
  ASSERT_EQ(result.kind, PacketKind::kIpv4);
  EXPECT_EQ(view.l3_offset, 14);
  EXPECT_EQ(view.l4_offset, 34);
  EXPECT_EQ(view.l3_length, 20 + 20 + 3);
  EXPECT_EQ(view.l4_protocol, kProtoTcp);
  EXPECT_EQ(view.tcp_flags, kTcpSyn);
  EXPECT_EQ(ntohs(view.key.src_port_be), 40000);
  EXPECT_EQ(ntohs(view.key.dst_port_be), 80);
  EXPECT_EQ(view.key.family, abi::AddressFamily::kIpv4);
  EXPECT_EQ(view.key.dst[0], 10);
  EXPECT_EQ(view.key.dst[3], 100);
  EXPECT_EQ(view.key.dst[4], 0);
  EXPECT_TRUE(view.dont_fragment);
  EXPECT_FALSE(view.is_fragment);
}

TEST(PacketParserTest, VlanAndIpv6Udp) {
  PacketView view;
  FrameSpec spec;
  spec.src = "2001:db8::1";
  spec.dst = "2001:db8::100";
  spec.protocol = 17;
  spec.dst_port = 53;
  spec.vlan = 42;
  const auto result = parse(build_frame(spec), view);
  ASSERT_EQ(result.kind, PacketKind::kIpv6);
  EXPECT_TRUE(view.has_vlan);
  EXPECT_EQ(view.vlan_tci, 42);
  EXPECT_EQ(view.l3_offset, 18);
  EXPECT_EQ(view.l4_offset, 18 + 40);
  EXPECT_EQ(ntohs(view.key.dst_port_be), 53);
}

TEST(PacketParserTest, Ipv4OptionsMoveTheL4Header) {
  FrameSpec spec;
  auto frame = build_frame(spec);
  // Insert 8 bytes of options (NOPs + EOL): IHL 7, total length + 8.
  frame.insert(frame.begin() + 34, {1, 1, 1, 1, 1, 1, 1, 0});
  frame[14] = 0x47;
  frame[17] = static_cast<uint8_t>(frame[17] + 8);
  PacketView view;
  ASSERT_EQ(parse(frame, view).kind, PacketKind::kIpv4);
  EXPECT_EQ(view.l4_offset, 14 + 28);
  EXPECT_EQ(ntohs(view.key.src_port_be), 40000);
}

TEST(PacketParserTest, Ipv6ExtensionHeadersAreSkipped) {
  FrameSpec spec;
  spec.src = "2001:db8::1";
  spec.dst = "2001:db8::100";
  auto frame = build_frame(spec);
  // hop-by-hop (8 bytes) then destination options (16 bytes) before TCP.
  const std::vector<uint8_t> hop{60, 0, 1, 4, 0, 0, 0, 0};
  const std::vector<uint8_t> dest{6, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  frame.insert(frame.begin() + 54, dest.begin(), dest.end());
  frame.insert(frame.begin() + 54, hop.begin(), hop.end());
  frame[20] = 0;  // next header: hop-by-hop
  const uint16_t payload = static_cast<uint16_t>(frame[18] << 8 | frame[19]) + 24;
  frame[18] = static_cast<uint8_t>(payload >> 8);
  frame[19] = static_cast<uint8_t>(payload);
  PacketView view;
  ASSERT_EQ(parse(frame, view).kind, PacketKind::kIpv6);
  EXPECT_EQ(view.l4_protocol, kProtoTcp);
  EXPECT_EQ(view.l4_offset, 14 + 40 + 24);
  EXPECT_EQ(ntohs(view.key.dst_port_be), 80);
}

struct DropCase {
  const char* name;
  std::vector<uint8_t> frame;
  DropReason reason;
};

TEST(PacketParserTest, MalformedFramesAreDropsWithReasons) {
  const auto good = build_frame(FrameSpec{});
  std::vector<DropCase> cases;
  cases.push_back({"short ethernet", {good.begin(), good.begin() + 13}, DropReason::kTruncated});
  cases.push_back({"short ipv4", {good.begin(), good.begin() + 30}, DropReason::kTruncated});
  auto ihl = good;
  ihl[14] = 0x44;
  cases.push_back({"ihl 4", ihl, DropReason::kBadIpHeader});
  auto ihl_long = good;
  ihl_long[14] = 0x4F;  // 60-byte header, packet only has 40
  cases.push_back({"ihl beyond total", ihl_long, DropReason::kBadIpHeader});
  auto total = good;
  total[17] = 200;
  cases.push_back({"total length beyond frame", total, DropReason::kTruncated});
  auto offset = good;
  offset[14 + 20 + 12] = 0x30;
  cases.push_back({"tcp data offset 3", offset, DropReason::kBadL4Header});
  auto qinq = good;
  qinq.insert(qinq.begin() + 12, {0x81, 0x00, 0, 1, 0x81, 0x00, 0, 2});
  cases.push_back({"two vlan tags", qinq, DropReason::kBadL2});
  auto ether = good;
  ether[12] = 0x88;
  ether[13] = 0xCC;
  cases.push_back({"lldp", ether, DropReason::kBadL2});
  FrameSpec six;
  six.src = "2001:db8::1";
  six.dst = "2001:db8::100";
  auto chain = build_frame(six);
  chain[20] = 60;  // destination options -> itself, forever
  for (int i = 0; i < 10; ++i) chain.insert(chain.begin() + 54, {60, 0, 1, 4, 0, 0, 0, 0});
  const uint16_t payload = static_cast<uint16_t>(chain[18] << 8 | chain[19]) + 80;
  chain[18] = static_cast<uint8_t>(payload >> 8);
  chain[19] = static_cast<uint8_t>(payload);
  cases.push_back({"ipv6 extension chain", chain, DropReason::kIpv6Extensions});
  for (const auto& c : cases) {
    PacketView view;
    const auto result = parse(c.frame, view);
    EXPECT_EQ(result.kind, PacketKind::kDrop) << c.name;
    EXPECT_EQ(result.reason, c.reason) << c.name;
  }
}

TEST(PacketParserTest, FragmentsCarryNoPorts) {
  auto frame = build_frame(FrameSpec{});
  frame[20] = 0x20;  // MF
  PacketView view;
  ASSERT_EQ(parse(frame, view).kind, PacketKind::kIpv4);
  EXPECT_TRUE(view.is_fragment);
  EXPECT_EQ(view.key.src_port_be, 0);
}

TEST(PacketParserTest, FlowHashMatchesTheDocumentedDefinition) {
  // Values from an independent implementation: Python xxhash.xxh3_64 over the documented
  // key bytes (abi/flow_hash.h).
  PacketView view;
  ASSERT_EQ(parse(build_frame(FrameSpec{}), view).kind, PacketKind::kIpv4);
  EXPECT_EQ(abi::flow_hash(view.key, 0x1234), 0xc22c08620123a1d4ULL);
  FrameSpec six;
  six.src = "2001:db8:ffff::1";
  six.dst = "2001:db8::100";
  ASSERT_EQ(parse(build_frame(six), view).kind, PacketKind::kIpv6);
  EXPECT_EQ(abi::flow_hash(view.key, 0x65636c622d666c77ULL), 0x87593a9c7eaaa757ULL);
}

// The per-packet shortcut of parse_packet must decide every frame exactly as the full
// walk does: the same verdict and the same view, byte for byte, on frames of every
// shape, cut at every length and with random bytes changed (lengths, IHL, fragment
// bits, protocol, TCP data offset, UDP length are all in the first 48 bytes).
TEST(PacketParserTest, TheShortcutAgreesWithTheFullWalk) {
  std::vector<std::vector<uint8_t>> shapes;
  for (uint8_t protocol : {6, 17, 1, 47}) {
    for (size_t payload : {0, 1, 7, 40}) {
      FrameSpec spec;
      spec.protocol = protocol;
      spec.payload.assign(payload, 0xAB);
      shapes.push_back(build_frame(spec));
      spec.vlan = 7;
      shapes.push_back(build_frame(spec));
      spec.vlan = -1;
      spec.src = "2001:db8::1";
      spec.dst = "2001:db8::100";
      shapes.push_back(build_frame(spec));
    }
  }
  std::mt19937 random(11);
  size_t compared = 0, shortcut = 0;
  const auto compare = [&](const std::vector<uint8_t>& frame, uint32_t length) {
    PacketView fast{}, full{};
    const ParseResult a = parse_packet(frame.data(), length, fast);
    const ParseResult b = parse_packet_general(frame.data(), length, full);
    ASSERT_EQ(a.kind, b.kind) << "length " << length;
    if (a.kind == PacketKind::kDrop) {
      ASSERT_EQ(a.reason, b.reason);
    } else {
      ASSERT_EQ(0, std::memcmp(&fast, &full, sizeof fast)) << "length " << length;
    }
    ++compared;
    shortcut += a.kind == PacketKind::kIpv4 && frame.size() >= 15 && frame[12] == 0x08 && frame[14] == 0x45;
  };
  for (const auto& shape : shapes) {
    std::vector<uint8_t> frame = shape;
    frame.resize(frame.size() + 8, 0);  // Ethernet padding
    for (uint32_t length = 0; length <= frame.size(); ++length) compare(frame, length);
    for (int round = 0; round < 3000; ++round) {
      std::vector<uint8_t> mutated = frame;
      for (int changes = 1 + static_cast<int>(random() % 3); changes > 0; --changes) {
        mutated[12 + random() % std::min<size_t>(40, mutated.size() - 12)] = static_cast<uint8_t>(random());
      }
      compare(mutated, static_cast<uint32_t>(mutated.size() - random() % 9));
    }
  }
  EXPECT_GT(compared, 100000u);
  EXPECT_GT(shortcut, 10000u) << "the shortcut's own frames were among them";
}

}  // namespace
}  // namespace eclb::dp
