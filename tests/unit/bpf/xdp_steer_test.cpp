// xdp_steer.bpf.c under BPF_PROG_TEST_RUN: the verdict per packet kind. No AF_XDP socket
// is bound in a test run, so the program's fallback verdict is set to XDP_TX: XDP_TX
// means "steered to DPDK", XDP_PASS "left to the kernel". The counters must agree.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "bpf/include/xdp_steer_maps.h"
#include "tests/unit/support/packet_builder.h"
#include "xdp_steer.skel.h"

namespace eclb::bpf {
namespace {

using test::build_frame;
using test::FrameSpec;

constexpr uint32_t kDpdk = XDP_TX;
constexpr uint32_t kKernel = XDP_PASS;

void address_bytes(const std::string& text, uint8_t (&out)[16], uint8_t& family) {
  std::memset(out, 0, 16);
  family = text.find(':') != std::string::npos ? 6 : 4;
  ASSERT_EQ(inet_pton(family == 6 ? AF_INET6 : AF_INET, text.c_str(), out), 1) << text;
}

std::vector<uint8_t> neighbour_message(uint8_t type, const std::string& target, const std::string& dst);

std::vector<uint8_t> neighbour_solicitation(const std::string& target) {
  return neighbour_message(135, target, "ff02::1:ff00:100");
}

std::vector<uint8_t> arp(uint16_t operation, const std::string& target) {
  std::vector<uint8_t> frame{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x10, 0x08, 0x06,
                             0, 1, 0x08, 0, 6, 4, 0, static_cast<uint8_t>(operation),
                             0x02, 0, 0, 0, 0, 0x10, 10, 99, 0, 10, 0, 0, 0, 0, 0, 0};
  in_addr address{};
  inet_pton(AF_INET, target.c_str(), &address);
  const auto* bytes = reinterpret_cast<const uint8_t*>(&address);
  frame.insert(frame.end(), bytes, bytes + 4);
  return frame;
}

// A frame to dst:dst_port (IPv6 when dst is), from a client; ICMP is an echo request.
std::vector<uint8_t> packet(const std::string& dst, uint16_t dst_port, uint8_t protocol = 6, int vlan = -1,
                            const std::string& src = "") {
  FrameSpec spec;
  spec.dst = dst;
  spec.dst_port = dst_port;
  spec.protocol = protocol;
  spec.vlan = vlan;
  if (dst.find(':') != std::string::npos) spec.src = "2001:db8::10";
  if (!src.empty()) spec.src = src;
  if (protocol == 58) spec.icmp_type = 128;
  return build_frame(spec);
}

std::vector<uint8_t> neighbour_message(uint8_t type, const std::string& target, const std::string& dst) {
  FrameSpec spec;
  spec.src = "2001:db8::10";
  spec.dst = dst;
  spec.protocol = 58;
  spec.icmp_type = type;
  in6_addr address{};
  inet_pton(AF_INET6, target.c_str(), &address);
  const auto* bytes = reinterpret_cast<const uint8_t*>(&address);
  spec.payload.assign(bytes, bytes + 16);
  return build_frame(spec);
}

class XdpSteerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_FAIL() << "needs root (BPF_PROG_TEST_RUN); the test command runs as root";
    skeleton_ = xdp_steer__open();
    ASSERT_NE(skeleton_, nullptr);
    skeleton_->data->steer_fallback = XDP_TX;
    skeleton_->data->neighbour_fallback = XDP_TX;
    ASSERT_EQ(xdp_steer__load(skeleton_), 0);
    add_l4("10.0.0.100", 80, IPPROTO_TCP);
    add_l4("10.0.0.100", 53, IPPROTO_UDP);
    add_l4("2001:db8::100", 80, IPPROTO_TCP);
    add_address("10.0.0.100", ECLB_STEER_ADDRESS_VIP);
    add_address("2001:db8::100", ECLB_STEER_ADDRESS_VIP);
    add_address("10.0.0.2", ECLB_STEER_ADDRESS_LOCAL);  // the dataplane's own / fullnat address
  }
  void TearDown() override {
    if (skeleton_ != nullptr) xdp_steer__destroy(skeleton_);
  }

  void add_l4(const std::string& address, uint16_t port, uint8_t protocol) {
    eclb_steer_l4_key key{};
    address_bytes(address, key.address, key.family);
    key.port_be = htons(port);
    key.protocol = protocol;
    const uint32_t value = 1;
    ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(skeleton_->maps.eclb_l4_vips), &key, &value, BPF_ANY), 0);
  }
  void add_address(const std::string& address, uint32_t flags) {
    eclb_steer_address_key key{};
    address_bytes(address, key.address, key.family);
    ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(skeleton_->maps.eclb_dp_addrs), &key, &flags, BPF_ANY), 0);
  }

  uint32_t run(const std::vector<uint8_t>& frame) {
    std::vector<uint8_t> out(frame.size() + 64);
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = out.data(),
                .data_size_in = static_cast<uint32_t>(frame.size()), .data_size_out = static_cast<uint32_t>(out.size()),
                .repeat = 1);
    EXPECT_EQ(bpf_prog_test_run_opts(bpf_program__fd(skeleton_->progs.xdp_steer), &opts), 0);
    out.resize(opts.data_size_out);
    EXPECT_EQ(out, frame) << "steering never changes a frame";
    return opts.retval;
  }

  uint64_t counter(eclb_steer_counter which) {
    std::vector<uint64_t> values(static_cast<size_t>(libbpf_num_possible_cpus()));
    uint32_t key = which;
    EXPECT_EQ(bpf_map_lookup_elem(bpf_map__fd(skeleton_->maps.eclb_steer_cnt), &key, values.data()), 0);
    uint64_t total = 0;
    for (uint64_t value : values) total += value;
    return total;
  }

  xdp_steer* skeleton_ = nullptr;
};

TEST_F(XdpSteerTest, L4VipTrafficGoesToDpdkOtherPortsOfTheAddressStayInTheKernel) {
  EXPECT_EQ(run(packet("10.0.0.100", 80)), kDpdk);
  EXPECT_EQ(run(packet("10.0.0.100", 53, 17)), kDpdk);
  EXPECT_EQ(run(packet("2001:db8::100", 80)), kDpdk);
  EXPECT_EQ(run(packet("10.0.0.100", 80, 6, 7)), kDpdk);
  EXPECT_EQ(counter(ECLB_STEER_TO_DPDK_L4), 4u);
  // The same address on another port or protocol: an L7 VIP, ssh... the kernel's.
  EXPECT_EQ(run(packet("10.0.0.100", 443)), kKernel);
  EXPECT_EQ(run(packet("10.0.0.100", 80, 17)), kKernel);
  EXPECT_EQ(run(packet("2001:db8::100", 443)), kKernel);
  EXPECT_EQ(counter(ECLB_STEER_TO_KERNEL), 3u);
}

TEST_F(XdpSteerTest, LocalAndFullnatAddressesTakeEverything) {
  EXPECT_EQ(run(packet("10.0.0.2", 41000, 6, -1, "10.0.0.21")), kDpdk);
  EXPECT_EQ(run(packet("10.0.0.2", 9, 17)), kDpdk);
  EXPECT_EQ(run(packet("10.0.0.2", 0, 1)), kDpdk);
  EXPECT_EQ(counter(ECLB_STEER_TO_DPDK_LOCAL), 3u);
}

TEST_F(XdpSteerTest, HostTrafficStaysInTheKernel) {
  EXPECT_EQ(run(packet("10.0.0.3", 22)), kKernel);
  EXPECT_EQ(run(packet("10.0.0.3", 0, 1)), kKernel);
  EXPECT_EQ(run(packet("2001:db8::3", 80)), kKernel);
  EXPECT_EQ(run(arp(1, "10.0.0.3")), kKernel);
  EXPECT_EQ(run(neighbour_solicitation("2001:db8::3")), kKernel);
  std::vector<uint8_t> lldp{0x01, 0x80, 0xc2, 0, 0, 0x0e, 0x02, 0, 0, 0, 0, 0x10, 0x88, 0xcc, 0, 0};
  EXPECT_EQ(run(lldp), kKernel);
  EXPECT_EQ(counter(ECLB_STEER_TO_KERNEL), 6u);
}

TEST_F(XdpSteerTest, NeighbourDiscoveryAndIcmpForDataplaneAddresses) {
  add_address("2001:db8::2", ECLB_STEER_ADDRESS_LOCAL);
  EXPECT_EQ(run(arp(1, "10.0.0.100")), kDpdk);  // who-has VIP
  EXPECT_EQ(run(arp(1, "10.0.0.2")), kDpdk);    // who-has the dataplane's address
  EXPECT_EQ(run(arp(2, "10.0.0.2")), kDpdk);    // a reply to the dataplane's own request
  EXPECT_EQ(run(neighbour_solicitation("2001:db8::100")), kDpdk);
  EXPECT_EQ(run(neighbour_message(136, "2001:db8::21", "2001:db8::2")), kDpdk);  // advertisement to the dataplane
  EXPECT_EQ(counter(ECLB_STEER_TO_DPDK_NEIGHBOUR), 5u);
  // Replies to the kernel's own requests, even when it asked from a VIP it holds on lo
  // (an L7 VIP): the dataplane never asks from a VIP.
  EXPECT_EQ(run(arp(2, "10.0.0.100")), kKernel);
  EXPECT_EQ(run(neighbour_message(136, "2001:db8::21", "2001:db8::100")), kKernel);
  EXPECT_EQ(counter(ECLB_STEER_TO_KERNEL), 2u);
  EXPECT_EQ(run(packet("10.0.0.100", 0, 1)), kDpdk);  // echo to a VIP
  EXPECT_EQ(run(packet("2001:db8::100", 0, 58)), kDpdk);
  EXPECT_EQ(counter(ECLB_STEER_TO_DPDK_ICMP), 2u);
}

TEST_F(XdpSteerTest, FragmentsAndMalformedFramesGoToTheKernel) {
  std::vector<uint8_t> fragment = packet("10.0.0.100", 80);
  fragment[14 + 6] = 0x20;  // more fragments
  EXPECT_EQ(run(fragment), kKernel);
  std::vector<uint8_t> truncated = packet("10.0.0.100", 80);
  truncated.resize(14 + 20 + 2);  // no destination port
  EXPECT_EQ(run(truncated), kKernel);
  std::vector<uint8_t> bad_ihl = packet("10.0.0.100", 80);
  bad_ihl[14] = 0x44;
  EXPECT_EQ(run(bad_ihl), kKernel);
  std::vector<uint8_t> no_ip_header{0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x10, 0x08, 0x00};
  EXPECT_EQ(run(no_ip_header), kKernel);
  std::vector<uint8_t> short_arp = arp(1, "10.0.0.100");
  short_arp.resize(30);
  EXPECT_EQ(run(short_arp), kKernel);
  EXPECT_EQ(counter(ECLB_STEER_TO_KERNEL), 5u);
}

TEST_F(XdpSteerTest, WithoutASocketOnTheQueueTheDataplanesTrafficIsHeldAndNeighboursPass) {
  // A killed dataplane's program stays attached with no socket bound until the next run
  // takes the interface over: its traffic is dropped (TCP retransmits into the new run)
  // rather than passed to a kernel that may hold the VIP and would reset the connection.
  xdp_steer__destroy(skeleton_);
  skeleton_ = xdp_steer__open();
  ASSERT_NE(skeleton_, nullptr);
  ASSERT_EQ(xdp_steer__load(skeleton_), 0);  // production fallbacks
  add_l4("10.0.0.100", 80, IPPROTO_TCP);
  add_address("10.0.0.100", ECLB_STEER_ADDRESS_VIP);
  add_address("10.0.0.2", ECLB_STEER_ADDRESS_LOCAL);
  EXPECT_EQ(run(packet("10.0.0.100", 80)), static_cast<uint32_t>(XDP_DROP));
  EXPECT_EQ(run(packet("10.0.0.2", 40000)), static_cast<uint32_t>(XDP_DROP)) << "a fullnat reply";
  EXPECT_EQ(run(arp(1, "10.0.0.100")), kKernel) << "ARP for the VIP: the kernel may hold it";
  EXPECT_EQ(run(packet("10.0.0.100", 8000)), kKernel) << "not the dataplane's: the kernel's as ever";
  EXPECT_EQ(counter(ECLB_STEER_TO_DPDK_L4), 1u);
  // BFD and BGP to the host: with no dataplane on the queue the host must not tell its
  // router it forwards, so BFD goes down with the dataplane (single hop 3784, multihop
  // 4784) and BGP cannot come back (to port 179, and the replies from it).
  EXPECT_EQ(run(packet("10.0.0.3", 3784, 17)), static_cast<uint32_t>(XDP_DROP));
  EXPECT_EQ(run(packet("10.0.0.3", 4784, 17)), static_cast<uint32_t>(XDP_DROP));
  EXPECT_EQ(run(packet("10.0.0.3", 179)), static_cast<uint32_t>(XDP_DROP));
  std::vector<uint8_t> from_bgp = packet("10.0.0.3", 40000);
  from_bgp[14 + 20] = 0;  // source port 179
  from_bgp[14 + 21] = 179;
  EXPECT_EQ(run(from_bgp), static_cast<uint32_t>(XDP_DROP)) << "the router's answers to the host's BGP connection";
  EXPECT_EQ(run(packet("10.0.0.3", 3785, 17)), kKernel) << "BFD echo and anything else: the kernel's";
  EXPECT_EQ(run(packet("10.0.0.3", 3784, 6)), kKernel) << "TCP to 3784 is not BFD";
  EXPECT_EQ(run(packet("10.0.0.3", 179, 17)), kKernel) << "UDP to 179 is not BGP";
  EXPECT_EQ(counter(ECLB_STEER_TO_KERNEL_ROUTING), 4u);
  EXPECT_EQ(counter(ECLB_STEER_ROUTING_DROPPED), 4u);
}

}  // namespace
}  // namespace eclb::bpf
