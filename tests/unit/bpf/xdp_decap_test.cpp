// xdp_decap.bpf.c under BPF_PROG_TEST_RUN: every tunnel kind comes out as the exact
// inner frame (byte for byte) with XDP_PASS; other traffic passes untouched; cut-short
// tunnels are dropped; the counters say which path each packet took.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <vector>

#include "bpf/include/xdp_decap_maps.h"
#include "tests/unit/support/packet_builder.h"
#include "xdp_decap.skel.h"

namespace eclb::bpf {
namespace {

using test::build_frame;
using test::FrameSpec;

class XdpDecapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_FAIL() << "needs root (BPF_PROG_TEST_RUN); the test command runs as root";
    skeleton_ = xdp_decap__open();
    ASSERT_NE(skeleton_, nullptr);
    skeleton_->rodata->gue_port = 6080;
    ASSERT_EQ(xdp_decap__load(skeleton_), 0);
  }
  void TearDown() override {
    if (skeleton_ != nullptr) xdp_decap__destroy(skeleton_);
  }

  // Runs the program on `frame`; returns the verdict, `out` gets the resulting frame.
  uint32_t run(const std::vector<uint8_t>& frame, std::vector<uint8_t>& out) {
    out.assign(frame.size() + 256, 0);
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = out.data(),
                .data_size_in = static_cast<uint32_t>(frame.size()), .data_size_out = static_cast<uint32_t>(out.size()),
                .repeat = 1);
    EXPECT_EQ(bpf_prog_test_run_opts(bpf_program__fd(skeleton_->progs.xdp_decap), &opts), 0);
    out.resize(opts.data_size_out);
    return opts.retval;
  }

  uint64_t counter(eclb_decap_counter which) {
    const int cpus = libbpf_num_possible_cpus();
    std::vector<uint64_t> values(static_cast<size_t>(cpus));
    uint32_t key = which;
    EXPECT_EQ(bpf_map_lookup_elem(bpf_map__fd(skeleton_->maps.decap_stats), &key, values.data()), 0);
    uint64_t total = 0;
    for (uint64_t value : values) total += value;
    return total;
  }

  xdp_decap* skeleton_ = nullptr;
};

// Wraps the IP packet of `inner` (an Ethernet frame) in an outer IPv4/IPv6 header, plus
// UDP to `gue_port` if given, the way eclb-dataplane does (checksums are not checked by
// the decapsulator, so they stay zero here).
std::vector<uint8_t> tunnel(const std::vector<uint8_t>& inner, bool outer_v6, int gue_port) {
  std::vector<uint8_t> frame(inner.begin(), inner.begin() + 12);
  const std::vector<uint8_t> payload(inner.begin() + 14, inner.end());
  const bool inner_v6 = inner[12] == 0x86;
  std::vector<uint8_t> udp;
  if (gue_port >= 0) {
    test::put16(udp, 50000);
    test::put16(udp, static_cast<uint16_t>(gue_port));
    test::put16(udp, static_cast<uint16_t>(8 + payload.size()));
    test::put16(udp, 0);
  }
  const size_t length = udp.size() + payload.size();
  if (outer_v6) {
    test::put16(frame, 0x86DD);
    for (uint8_t b : {0x60, 0, 0, 0}) frame.push_back(b);
    test::put16(frame, static_cast<uint16_t>(length));
    frame.push_back(gue_port >= 0 ? 17 : 41);
    frame.push_back(64);
    for (int i = 0; i < 32; ++i) frame.push_back(static_cast<uint8_t>(i));
  } else {
    test::put16(frame, 0x0800);
    std::vector<uint8_t> ip{0x45, 0};
    test::put16(ip, static_cast<uint16_t>(20 + length));
    for (uint8_t b : {0, 0, 0x40, 0, 64}) ip.push_back(b);
    ip.push_back(gue_port >= 0 ? 17 : (inner_v6 ? 41 : 4));
    for (uint8_t b : {0, 0, 10, 0, 0, 2, 10, 0, 0, 11}) ip.push_back(b);
    frame.insert(frame.end(), ip.begin(), ip.end());
  }
  frame.insert(frame.end(), udp.begin(), udp.end());
  frame.insert(frame.end(), payload.begin(), payload.end());
  return frame;
}

TEST_F(XdpDecapTest, TunnelsComeOutAsTheExactInnerFrame) {
  FrameSpec v4;
  v4.payload = {'h', 'i'};
  FrameSpec v6;
  v6.src = "2001:db8:ffff::1";
  v6.dst = "2001:db8::100";
  const auto inner4 = build_frame(v4);
  const auto inner6 = build_frame(v6);
  struct Case {
    const char* name;
    std::vector<uint8_t> in;
    const std::vector<uint8_t>& expected;
  } cases[] = {
      {"ipip", tunnel(inner4, false, -1), inner4},
      {"ip6ip6", tunnel(inner6, true, -1), inner6},
      {"gue over ipv4, inner ipv4", tunnel(inner4, false, 6080), inner4},
      {"gue over ipv4, inner ipv6", tunnel(inner6, false, 6080), inner6},
      {"gue over ipv6, inner ipv6", tunnel(inner6, true, 6080), inner6},
  };
  for (const Case& c : cases) {
    std::vector<uint8_t> out;
    EXPECT_EQ(run(c.in, out), static_cast<uint32_t>(XDP_PASS)) << c.name;
    EXPECT_EQ(out, c.expected) << c.name;
  }
  EXPECT_EQ(counter(ECLB_DECAP_IPIP), 1u);
  EXPECT_EQ(counter(ECLB_DECAP_IP6IP6), 1u);
  EXPECT_EQ(counter(ECLB_DECAP_GUE), 3u);
}

TEST_F(XdpDecapTest, OtherTrafficPassesUntouched) {
  FrameSpec udp_other;
  udp_other.protocol = 17;
  udp_other.dst_port = 6081;  // not the GUE port
  const std::vector<std::vector<uint8_t>> frames{build_frame(FrameSpec{}), build_frame(udp_other),
                                                 {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06, 0, 1}};
  for (const auto& frame : frames) {
    std::vector<uint8_t> out;
    EXPECT_EQ(run(frame, out), static_cast<uint32_t>(XDP_PASS));
    EXPECT_EQ(out, frame);
  }
  EXPECT_EQ(counter(ECLB_DECAP_PASS), 3u);
}

TEST_F(XdpDecapTest, CutShortTunnelsAreDropped) {
  const auto inner4 = build_frame(FrameSpec{});
  auto ipip = tunnel(inner4, false, -1);
  ipip.resize(14 + 20 + 10);  // the inner header is cut
  std::vector<uint8_t> out;
  EXPECT_EQ(run(ipip, out), static_cast<uint32_t>(XDP_DROP));
  auto gue = tunnel(inner4, false, 6080);
  gue[14 + 20 + 8] = 0x75;  // payload is no IP version
  EXPECT_EQ(run(gue, out), static_cast<uint32_t>(XDP_DROP));
  EXPECT_EQ(counter(ECLB_DECAP_MALFORMED), 2u);
}

}  // namespace
}  // namespace eclb::bpf
