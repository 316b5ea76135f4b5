// Worker::process_burst on synthetic mbufs over a loopback ring port, with tables from
// the real writer: Maglev picks, flow stickiness across table changes, re-picks when a
// backend leaves or goes down, drained backends, counted drops, burst order.
#include "dataplane/fastpath/worker.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <rte_ring.h>

#include <cstring>
#include <map>

#include "control/core/maglev_table.h"
#include "control/publish/table_writer.h"
#include "tests/unit/support/dpdk_test_env.h"
#include "tests/unit/support/packet_builder.h"
#include "tests/unit/support/temp_dir.h"

namespace eclb::dp {
namespace {

using abi::DropReason;
using test::build_frame;
using test::FrameSpec;

constexpr uint64_t kSeed = 0x5eed;
constexpr uint32_t kTableSize = 251;

struct Member {
  std::string name;
  std::string address;
  abi::BackendState state = abi::BackendState::kUp;
};

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test::drain_port();
    auto writer = ctl::TableWriter::open({dir_.file("tables"), TableCapacity{8, 64, 8, 4096}});
    ASSERT_TRUE(writer.ok()) << writer.error().message;
    writer_.emplace(std::move(*writer));
    buckets_.assign(64, abi::FlowBucket{});
    entries_.assign(64 * abi::kFlowWays, abi::FlowEntry{});
    lcore_ = abi::LcoreStats{};
    vip_stats_.assign(8, abi::VipStats{});
    backend_stats_.assign(64, abi::BackendStats{});
    neighbours_ = std::make_unique<NeighbourTable>(64);
    for (uint32_t id = 0; id < 64; ++id) {
      const uint8_t mac[6] = {2, 0, 0, 0, 1, static_cast<uint8_t>(id)};
      neighbours_->publish(id, mac);
    }
    ring_ = rte_ring_create(("ctl" + std::to_string(counter_++)).c_str(), 64, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    ASSERT_NE(ring_, nullptr);
    port_.port_id = test::DpdkTestEnv::port();
    port_.queue_id = 0;
    port_.mtu = 1500;
    const uint8_t mac[6] = {2, 0, 0, 0, 0, 2};
    std::memcpy(port_.mac, mac, 6);
    inet_pton(AF_INET, "10.0.0.2", port_.local_ipv4);
    port_.has_ipv4 = 1;
    port_.neighbours = neighbours_.get();
    port_.to_control = ring_;
    WorkerCounters counters{&lcore_, vip_stats_.data(), backend_stats_.data(), 8, 64};
    nat_buckets_.assign(64, abi::FlowBucket{});
    nat_entries_.assign(64 * abi::kFlowWays, abi::FlowEntry{});
    FlowTable flows(&flow_header_.entries, buckets_.data(), entries_.data(), 64, FlowTimeouts{}, FlowGuardConfig{});
    FlowTable nat(&flow_header_.nat_entries, nat_buckets_.data(), nat_entries_.data(), 64, FlowTimeouts{}, FlowGuardConfig{});
    worker_ = std::make_unique<Worker>(flows, nat, counters, WorkerSettings{6080, 0});
    worker_->set_clock(1000);
  }

  void TearDown() override {
    void* leftover = nullptr;
    while (rte_ring_dequeue(ring_, &leftover) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(leftover));
    rte_ring_free(ring_);
  }

  // Publishes the VIP 10.0.0.100:80 (dsr-ipip) with `members` and hands it to the worker.
  void publish(const std::vector<Member>& members) {
    ctl::TableContent content;
    content.flow_hash_seed = kSeed;
    ctl::VipContent vip;
    vip.name = "web";
    vip.endpoint = *Endpoint::parse("10.0.0.100:80");
    vip.mode = abi::ForwardMode::kDsrIpip;
    vip.table_size = kTableSize;
    std::vector<ctl::MaglevBackend> weighted;
    for (const Member& member : members) {
      const Endpoint endpoint = *Endpoint::parse(member.address + ":80");
      vip.members.push_back({member.name, endpoint, 1, member.state});
      weighted.push_back({endpoint, member.state == abi::BackendState::kUp ? 1u : 0u});
    }
    const auto table = ctl::MaglevTable::build(weighted, kTableSize);
    vip.slots.assign(table->slots().begin(), table->slots().end());
    content.vips.push_back(vip);
    ASSERT_TRUE(writer_->publish(content).ok());
    auto segment = TableSegment::attach(dir_.file("tables"), MappedFile::Access::kReadOnly);
    ASSERT_TRUE(segment.ok());
    auto snapshot = segment->snapshot();
    ASSERT_TRUE(snapshot.ok());
    snapshot_ = std::move(*snapshot);
    worker_->set_table(snapshot_.view, snapshot_.generation);
  }

  // Which backend (by name) the current table's Maglev gives a client port.
  std::string maglev_choice(uint16_t client_port) {
    abi::FlowKey key{};
    key.family = abi::AddressFamily::kIpv4;
    key.protocol = 6;
    inet_pton(AF_INET, "198.51.100.1", key.src);
    inet_pton(AF_INET, "10.0.0.100", key.dst);
    key.src_port_be = htons(client_port);
    key.dst_port_be = htons(80);
    const abi::VipEntry& vip = snapshot_.view.vips()[0];
    const uint32_t slot = snapshot_.view.slots_of(vip)[abi::flow_hash(key, kSeed) % vip.table_size];
    return slot == abi::kNoBackend ? "" : snapshot_.view.backends_of(vip)[slot].name;
  }

  // Sends one frame through the worker; returns the name of the backend it was tunnelled
  // to ("" if nothing was sent).
  std::string send(const FrameSpec& spec) {
    rte_mbuf* m = test::make_mbuf(build_frame(spec));
    worker_->process_burst(port_, &m, 1);
    const auto frames = test::drain_port();
    if (frames.empty()) return "";
    EXPECT_EQ(frames.size(), 1u);
    return backend_of(frames[0]);
  }

  std::string backend_of(const std::vector<uint8_t>& frame) {
    if (frame.size() < 34 || frame[12] != 0x08 || frame[23] != 4) return "not-ipip";
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, frame.data() + 30, text, sizeof text);
    for (const abi::BackendEntry& backend : snapshot_.view.backends()) {
      if (IpAddress::from_bytes(backend.family, backend.address).to_string() == text) {
        const uint64_t mac = neighbours_->lookup(backend.id);
        uint8_t expected[6];
        NeighbourTable::unpack(mac, expected);
        EXPECT_EQ(0, std::memcmp(frame.data(), expected, 6)) << "to the backend's neighbour MAC";
        return backend.name;
      }
    }
    return text;
  }

  static FrameSpec client(uint16_t port, uint8_t flags = 0x10) {
    FrameSpec spec;
    spec.src_port = port;
    spec.tcp_flags = flags;
    return spec;
  }

  // A client port whose Maglev choice differs between the tables of `a` and `b`.
  uint16_t port_that_moves(const std::vector<Member>& a, const std::vector<Member>& b, std::string& before) {
    for (uint16_t p = 20000; p < 30000; ++p) {
      publish(a);
      before = maglev_choice(p);
      publish(b);
      if (maglev_choice(p) != before) return p;
    }
    ADD_FAILURE() << "no moving port";
    return 0;
  }

  uint64_t drops(DropReason reason) const { return lcore_.drops[static_cast<uint32_t>(reason)]; }

  inline static int counter_ = 0;
  test::TempDir dir_;
  std::optional<ctl::TableWriter> writer_;
  TableSnapshot snapshot_;
  abi::FlowWorkerHeader flow_header_{};
  std::vector<abi::FlowBucket> buckets_;
  std::vector<abi::FlowEntry> entries_;
  std::vector<abi::FlowBucket> nat_buckets_;
  std::vector<abi::FlowEntry> nat_entries_;
  abi::LcoreStats lcore_{};
  std::vector<abi::VipStats> vip_stats_;
  std::vector<abi::BackendStats> backend_stats_;
  std::unique_ptr<NeighbourTable> neighbours_;
  rte_ring* ring_ = nullptr;
  WorkerPort port_;
  std::unique_ptr<Worker> worker_;
};

const std::vector<Member> kThree{{"gw1", "10.0.0.11"}, {"gw2", "10.0.0.12"}, {"gw3", "10.0.0.13"}};

TEST_F(WorkerTest, NewFlowsGoWhereMaglevSaysAndAreCounted) {
  publish(kThree);
  std::map<std::string, int> spread;
  for (uint16_t p = 30000; p < 30060; ++p) {
    const std::string backend = send(client(p, 0x02));
    EXPECT_EQ(backend, maglev_choice(p)) << "port " << p;
    ++spread[backend];
  }
  EXPECT_EQ(spread.size(), 3u) << "60 flows reach all three gateways";
  const abi::VipEntry& vip = snapshot_.view.vips()[0];
  EXPECT_EQ(vip_stats_[vip.id].new_flows, 60u);
  EXPECT_EQ(vip_stats_[vip.id].packets, 60u);
  EXPECT_EQ(lcore_.flow_inserts, 60u);
  EXPECT_EQ(lcore_.tx_packets, 60u);
  uint64_t backend_flows = 0;
  for (const abi::BackendEntry& backend : snapshot_.view.backends()) backend_flows += backend_stats_[backend.id].new_flows;
  EXPECT_EQ(backend_flows, 60u);
}

TEST_F(WorkerTest, EstablishedFlowsKeepTheirBackendWhenTheTableChanges) {
  std::vector<Member> four = kThree;
  four.push_back({"gw4", "10.0.0.14"});
  std::string before;
  const uint16_t port = port_that_moves(kThree, four, before);
  publish(kThree);
  ASSERT_EQ(send(client(port, 0x02)), before);
  publish(four);  // Maglev now prefers another backend for this flow
  EXPECT_NE(maglev_choice(port), before);
  EXPECT_EQ(send(client(port)), before) << "the flow table keeps it where it was";
  EXPECT_EQ(lcore_.flow_repicks, 0u);
}

TEST_F(WorkerTest, FlowsOfARemovedBackendArePickedAgain) {
  publish(kThree);
  uint16_t port = 0;
  for (uint16_t p = 31000; p < 32000 && port == 0; ++p) port = maglev_choice(p) == "gw2" ? p : 0;
  ASSERT_EQ(send(client(port, 0x02)), "gw2");
  std::vector<Member> without_gw2{kThree[0], kThree[2]};
  publish(without_gw2);
  const std::string now = send(client(port));
  EXPECT_EQ(now, maglev_choice(port));
  EXPECT_NE(now, "gw2");
  EXPECT_EQ(lcore_.flow_repicks, 1u);
}

TEST_F(WorkerTest, DrainedBackendsKeepTheirFlowsButGetNoNewOnes) {
  publish(kThree);
  uint16_t port = 0;
  for (uint16_t p = 32000; p < 33000 && port == 0; ++p) port = maglev_choice(p) == "gw1" ? p : 0;
  ASSERT_EQ(send(client(port, 0x02)), "gw1");
  std::vector<Member> drained = kThree;
  drained[0].state = abi::BackendState::kDrained;
  publish(drained);
  EXPECT_EQ(send(client(port)), "gw1") << "an existing flow stays on the drained backend";
  for (uint16_t p = 33000; p < 33050; ++p) EXPECT_NE(send(client(p, 0x02)), "gw1");

  std::vector<Member> down = kThree;
  down[0].state = abi::BackendState::kDown;
  publish(down);
  EXPECT_NE(send(client(port)), "gw1") << "a down backend's flows are picked again";
}

TEST_F(WorkerTest, DropsAreCountedByReason) {
  rte_mbuf* m = test::make_mbuf(build_frame(client(1)));
  worker_->process_burst(port_, &m, 1);
  EXPECT_EQ(drops(DropReason::kNoTable), 1u) << "before any table";

  std::vector<Member> all_down = kThree;
  for (Member& member : all_down) member.state = abi::BackendState::kDown;
  publish(all_down);
  EXPECT_EQ(send(client(2, 0x02)), "");
  EXPECT_EQ(drops(DropReason::kNoBackend), 1u);
  EXPECT_EQ(vip_stats_[snapshot_.view.vips()[0].id].no_backend_drops, 1u);

  publish(kThree);
  FrameSpec other = client(3);
  other.dst = "10.0.0.200";
  EXPECT_EQ(send(other), "");
  EXPECT_EQ(drops(DropReason::kNotForUs), 1u);
  FrameSpec wrong_port = client(4);
  wrong_port.dst_port = 443;
  EXPECT_EQ(send(wrong_port), "");
  EXPECT_EQ(drops(DropReason::kNoVipForPort), 1u);

  for (uint32_t id = 0; id < 64; ++id) neighbours_->clear(id);
  EXPECT_EQ(send(client(5, 0x02)), "");
  EXPECT_EQ(drops(DropReason::kNeighbourUnresolved), 1u);
  EXPECT_EQ(lcore_.tx_packets, 0u);
}

TEST_F(WorkerTest, ArpGoesToTheControlLcore) {
  publish(kThree);
  std::vector<uint8_t> arp{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 0x10, 0x08, 0x06};
  arp.insert(arp.end(), {0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 0x10, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 100});
  rte_mbuf* m = test::make_mbuf(arp);
  worker_->process_burst(port_, &m, 1);
  EXPECT_EQ(rte_ring_count(ring_), 1u);
  EXPECT_EQ(lcore_.slow_path_packets, 1u);
}

TEST_F(WorkerTest, ABurstLeavesInTheOrderItCame) {
  publish(kThree);
  FrameSpec ping = client(0);
  ping.protocol = 1;
  ping.dst = "10.0.0.100";
  std::vector<rte_mbuf*> burst{test::make_mbuf(build_frame(client(40000, 0x02))), test::make_mbuf(build_frame(ping)),
                               test::make_mbuf(build_frame(client(40001, 0x02)))};
  worker_->process_burst(port_, burst.data(), static_cast<uint16_t>(burst.size()));
  const auto frames = test::drain_port();
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0][23], 4) << "tunnelled";
  EXPECT_EQ(frames[1][23], 1) << "echo reply in the middle";
  EXPECT_EQ(frames[2][23], 4);
  EXPECT_EQ(lcore_.icmp_echo_replies, 1u);
}

TEST_F(WorkerTest, OversizedPacketsGetFragmentationNeeded) {
  publish(kThree);
  FrameSpec big = client(50000);
  big.payload.assign(1460, 'b');  // 1500 bytes of IP + 20 of tunnel > MTU
  rte_mbuf* m = test::make_mbuf(build_frame(big));
  worker_->process_burst(port_, &m, 1);
  const auto frames = test::drain_port();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0][23], 1);
  EXPECT_EQ(frames[0][34], 3);
  EXPECT_EQ(frames[0][35], 4);
  EXPECT_EQ(frames[0][40] << 8 | frames[0][41], 1480);
  EXPECT_EQ(drops(DropReason::kTooBig), 1u);
  EXPECT_EQ(lcore_.icmp_too_big_sent, 1u);
}

}  // namespace
}  // namespace eclb::dp

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new eclb::test::DpdkTestEnv);
  return RUN_ALL_TESTS();
}
