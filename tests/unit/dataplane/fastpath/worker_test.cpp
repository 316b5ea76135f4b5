// Worker::process_burst on synthetic mbufs over a loopback ring port, with tables from
// the real writer: Maglev picks, flow stickiness across table changes, re-picks when a
// backend leaves or goes down, drained backends, counted drops, burst order.
#include "dataplane/fastpath/worker.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <rte_ring.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "control/core/maglev_table.h"
#include "abi/rss.h"
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
    nat_buckets_.assign(64, abi::FlowBucket{});
    nat_entries_.assign(64 * abi::kFlowWays, abi::FlowEntry{});
    start_worker(1000, false);
  }

  // A worker over this fixture's flow and NAT tables (a restarted dataplane adopting
  // them), its clock at `now_s`; with `hints`, fullnat port hints rebuilt by a full sweep
  // as the runtime does before the first burst.
  void start_worker(uint32_t now_s, bool hints) {
    WorkerCounters counters{&lcore_, vip_stats_.data(), backend_stats_.data(), 8, 64};
    FlowTable flows(&flow_header_.entries, buckets_.data(), entries_.data(), 64, FlowTimeouts{}, FlowGuardConfig{});
    FlowTable nat(&flow_header_.nat_entries, nat_buckets_.data(), nat_entries_.data(), 64, FlowTimeouts{}, FlowGuardConfig{});
    worker_ = std::make_unique<Worker>(flows, nat, counters, settings_);
    worker_->set_clock(now_s);
    if (hints) {
      hint_storage_.assign(size_t{NatPortHints::kMaxAddresses} * NatPortHints::kWordsPerAddress, 0);
      worker_->set_nat_hints(hint_storage_.data());
      worker_->add_nat_addresses(port_);
      worker_->sweep_nat(worker_->nat().bucket_count());
    }
    if (!snapshot_.view.empty()) worker_->set_table(snapshot_.view, snapshot_.generation);
  }

  void TearDown() override {
    void* leftover = nullptr;
    while (rte_ring_dequeue(ring_, &leftover) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(leftover));
    rte_ring_free(ring_);
  }

  // Publishes the VIP 10.0.0.100:80 (dsr-ipip; with `nat`, 10.0.0.101:443 fullnat to
  // backend port 8080) with `members` and hands it to the worker.
  void publish(const std::vector<Member>& members, bool nat = false, abi::L4Protocol protocol = abi::L4Protocol::kTcp) {
    ctl::TableContent content;
    content.flow_hash_seed = kSeed;
    ctl::VipContent vip;
    vip.name = "web";
    vip.endpoint = *Endpoint::parse(nat ? "10.0.0.101:443" : "10.0.0.100:80");
    vip.mode = nat ? abi::ForwardMode::kFullNat : abi::ForwardMode::kDsrIpip;
    vip.protocol = protocol;
    vip.table_size = kTableSize;
    std::vector<ctl::MaglevBackend> weighted;
    for (const Member& member : members) {
      const Endpoint endpoint = *Endpoint::parse(member.address + (nat ? ":8080" : ":80"));
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

  // The flow key of client(port) towards the DSR VIP.
  static abi::FlowKey client_key(uint16_t client_port) {
    abi::FlowKey key{};
    key.family = abi::AddressFamily::kIpv4;
    key.protocol = 6;
    inet_pton(AF_INET, "198.51.100.1", key.src);
    inet_pton(AF_INET, "10.0.0.100", key.dst);
    key.src_port_be = htons(client_port);
    key.dst_port_be = htons(80);
    return key;
  }

  // Which backend (by name) the current table's Maglev gives a client port.
  std::string maglev_choice(uint16_t client_port) {
    const abi::FlowKey key = client_key(client_port);
    const abi::VipEntry& vip = snapshot_.view.vips()[0];
    const uint32_t slot = snapshot_.view.slots_of(vip)[abi::flow_hash(key, kSeed) % vip.table_size];
    return slot == abi::kNoBackend ? "" : snapshot_.view.backends_of(vip)[slot].name;
  }

  // The backend a fullnat frame `out` was translated to (destination address).
  std::string backend_of_nat(const std::vector<uint8_t>& out) {
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, out.data() + 30, text, sizeof text);
    for (const abi::BackendEntry& backend : snapshot_.view.backends()) {
      if (IpAddress::from_bytes(backend.family, backend.address).to_string() == text) return backend.name;
    }
    return text;
  }

  std::string maglev_choice_nat(uint16_t client_port) {
    abi::FlowKey key{};
    key.family = abi::AddressFamily::kIpv4;
    key.protocol = 6;
    inet_pton(AF_INET, "198.51.100.1", key.src);
    inet_pton(AF_INET, "10.0.0.101", key.dst);
    key.src_port_be = htons(client_port);
    key.dst_port_be = htons(443);
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

  // Sends one frame; returns how many frames came out.
  size_t send_raw(const std::vector<uint8_t>& frame) {
    rte_mbuf* m = test::make_mbuf(frame);
    worker_->process_burst(port_, &m, 1);
    return test::drain_port().size();
  }

  inline static int counter_ = 0;
  WorkerSettings settings_{6080, 0};
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
  std::vector<uint64_t> hint_storage_;
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

TEST_F(WorkerTest, UnderASynFloodDsrSynsAreForwardedWithoutAnEntry) {
  publish(kThree);
  // This table's flood rate is the floor, kMinSynFloodPerS new-flow SYNs a second.
  uint16_t port = 20000;
  for (uint32_t i = 0; i < kMinSynFloodPerS; ++i, ++port) ASSERT_EQ(send(client(port, 0x02)), maglev_choice(port));
  EXPECT_EQ(lcore_.syn_unrecorded, 0u) << "up to the rate, every SYN gets its entry";
  EXPECT_EQ(lcore_.flow_inserts, kMinSynFloodPerS);
  const uint16_t flooded = port;
  for (uint32_t i = 0; i < 200; ++i, ++port) ASSERT_EQ(send(client(port, 0x02)), maglev_choice(port));
  EXPECT_EQ(lcore_.syn_unrecorded, 200u) << "past it, SYNs go where the table says, unrecorded";
  EXPECT_EQ(lcore_.flow_inserts, kMinSynFloodPerS);
  EXPECT_EQ(lcore_.tx_packets, kMinSynFloodPerS + 200);
  EXPECT_EQ(send(client(flooded, 0x02)), maglev_choice(flooded)) << "a retransmitted SYN goes the same way";
  // The handshake's ACK records the flow, which then keeps its backend like any other.
  EXPECT_EQ(send(client(flooded, 0x10)), maglev_choice(flooded));
  EXPECT_EQ(lcore_.flow_inserts, kMinSynFloodPerS + 1);
  ASSERT_NE(worker_->flows().peek(client_key(flooded), abi::flow_hash(client_key(flooded), kSeed), 1000), nullptr);
  // The second after a flood still counts as one; the one after that does not.
  worker_->set_clock(1001);
  send(client(port++, 0x02));
  EXPECT_EQ(lcore_.syn_unrecorded, 202u);
  worker_->set_clock(1003);
  send(client(port++, 0x02));
  EXPECT_EQ(lcore_.syn_unrecorded, 202u);
  EXPECT_EQ(lcore_.flow_inserts, kMinSynFloodPerS + 2);
}

TEST_F(WorkerTest, AVipGoneFromTheTableIsGoneForTheNextPacket) {
  publish(kThree);
  ASSERT_EQ(send(client(31000)), maglev_choice(31000));
  // The worker remembers the last VIP it found; a new table must make it look again.
  publish(kThree, true);  // 10.0.0.100:80 is no VIP any more (the VIP is 10.0.0.101:443)
  EXPECT_EQ(send(client(31000)), "");
  EXPECT_EQ(drops(DropReason::kNotForUs), 1u);
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
  EXPECT_EQ(drops(DropReason::kTooBig), 0u) << "answered, so counted once: icmp_too_big_sent";
  EXPECT_EQ(lcore_.icmp_too_big_sent, 1u);

  big.dont_fragment = false;  // would need fragmenting: dropped, counted as a drop only
  m = test::make_mbuf(build_frame(big));
  worker_->process_burst(port_, &m, 1);
  EXPECT_TRUE(test::drain_port().empty());
  EXPECT_EQ(drops(DropReason::kTooBig), 1u);
  EXPECT_EQ(lcore_.icmp_too_big_sent, 1u);
}

// Sets the IPv4 header checksum of an Ethernet + IPv4 frame (no VLAN) anew.
void fix_ipv4_checksum(std::vector<uint8_t>& frame) {
  frame[24] = frame[25] = 0;
  const uint16_t checksum = test::inet_checksum(frame.data() + 14, 20);
  frame[24] = static_cast<uint8_t>(checksum >> 8);
  frame[25] = static_cast<uint8_t>(checksum);
}

TEST_F(WorkerTest, WhatIsNotForUsOrCannotBeRealIsACountedDrop) {
  publish(kThree);
  // Unicast to another MAC (flooded on a shared segment): dropped, not forwarded twice.
  auto foreign = build_frame(client(60000, 0x02));
  foreign[5] = 0x99;
  rte_mbuf* m = test::make_mbuf(foreign);
  worker_->process_burst(port_, &m, 1);
  EXPECT_EQ(drops(DropReason::kForeignMac), 1u);
  // Broadcast is looked at (an ARP request reaches the control lcore).
  auto broadcast = build_frame(client(60001, 0x02));
  std::memset(broadcast.data(), 0xFF, 6);
  EXPECT_EQ(send_raw(broadcast), 1u) << "a broadcast TCP frame to the VIP is not a foreign one";

  // A corrupt IPv4 header checksum.
  auto corrupt = build_frame(client(60002, 0x02));
  corrupt[25] ^= 0x01;
  EXPECT_EQ(send_raw(corrupt), 0u);
  EXPECT_EQ(drops(DropReason::kBadIpChecksum), 1u);

  // Sources no client can have, and sources that are ours.
  const char* martians[] = {"0.0.0.0", "0.1.2.3", "127.0.0.1", "224.0.0.1", "239.1.1.1", "255.255.255.255",
                            "10.0.0.100", "10.0.0.2"};
  for (const char* source : martians) {
    FrameSpec spec = client(60003, 0x02);
    spec.src = source;
    EXPECT_EQ(send_raw(build_frame(spec)), 0u) << source;
  }
  EXPECT_EQ(drops(DropReason::kMartianSource), std::size(martians));
  // Traffic that is not ours is not judged by its source: it is the kernel's (an IGMP
  // report from 0.0.0.0 is fine there).
  FrameSpec igmp = client(60004, 0x02);
  igmp.src = "0.0.0.0";
  igmp.dst = "224.0.0.22";
  EXPECT_EQ(send_raw(build_frame(igmp)), 0u);
  EXPECT_EQ(drops(DropReason::kNotForUs), 1u);
  EXPECT_EQ(drops(DropReason::kMartianSource), std::size(martians));
  EXPECT_EQ(lcore_.flow_inserts, 1u) << "only the broadcast frame's flow";
}


// --- fullnat ---------------------------------------------------------------------

// Toeplitz hash written from the RSS specification (bit by bit), independent of DPDK.
uint32_t reference_toeplitz(const std::vector<uint8_t>& input) {
  uint32_t result = 0;
  const uint8_t* key = abi::kRssKey;
  for (size_t byte = 0; byte < input.size(); ++byte) {
    for (int bit = 7; bit >= 0; --bit) {
      if (input[byte] & (1 << bit)) {
        const size_t shift = byte * 8 + static_cast<size_t>(7 - bit);
        const uint64_t window = uint64_t{key[shift / 8]} << 32 | uint64_t{key[shift / 8 + 1]} << 24 |
                                uint64_t{key[shift / 8 + 2]} << 16 | uint64_t{key[shift / 8 + 3]} << 8 |
                                key[shift / 8 + 4];
        result ^= static_cast<uint32_t>(window >> (8 - shift % 8));
      }
    }
  }
  return result;
}

// dsr-gue over IPv6 through the worker: by default the outer UDP checksum covers the
// whole packet; with gue_ipv6_zero_checksum it is zero (RFC 6935/6936); the inner packet
// is carried unchanged either way.
class GueIpv6Test : public WorkerTest {
 protected:
  // A worker with `zero_checksum`, the VIP [2001:db8::100]:80 as dsr-gue over two IPv6
  // gateways, and one client SYN through it; returns the frame that left.
  std::vector<uint8_t> forward_one(bool zero_checksum) {
    settings_.gue_ipv6_zero_checksum = zero_checksum;
    start_worker(1000, false);
    inet_pton(AF_INET6, "2001:db8::2", port_.local_ipv6);
    port_.has_ipv6 = 1;
    ctl::TableContent content;
    content.flow_hash_seed = kSeed;
    ctl::VipContent vip;
    vip.name = "web6";
    vip.endpoint = *Endpoint::parse("[2001:db8::100]:80");
    vip.mode = abi::ForwardMode::kDsrGue;
    vip.protocol = abi::L4Protocol::kTcp;
    vip.table_size = kTableSize;
    std::vector<ctl::MaglevBackend> weighted;
    for (const auto& [name, address] : {std::pair{"gw1", "[2001:db8::11]:80"}, std::pair{"gw2", "[2001:db8::12]:80"}}) {
      const Endpoint endpoint = *Endpoint::parse(address);
      vip.members.push_back({name, endpoint, 1, abi::BackendState::kUp});
      weighted.push_back({endpoint, 1u});
    }
    const auto table = ctl::MaglevTable::build(weighted, kTableSize);
    vip.slots.assign(table->slots().begin(), table->slots().end());
    content.vips.push_back(vip);
    EXPECT_TRUE(writer_->publish(content).ok());
    auto segment = TableSegment::attach(dir_.file("tables"), MappedFile::Access::kReadOnly);
    auto snapshot = segment->snapshot();
    snapshot_ = std::move(*snapshot);
    worker_->set_table(snapshot_.view, snapshot_.generation);
    FrameSpec spec;
    spec.src = "2001:db8:1::7";
    spec.dst = "2001:db8::100";
    spec.payload.assign(100, 0xab);
    inner_ = build_frame(spec);
    rte_mbuf* m = test::make_mbuf(inner_);
    worker_->process_burst(port_, &m, 1);
    const auto frames = test::drain_port();
    EXPECT_EQ(frames.size(), 1u);
    return frames.empty() ? std::vector<uint8_t>{} : frames[0];
  }

  // The one's-complement sum of the outer UDP datagram with its IPv6 pseudo-header
  // (0xffff when the checksum in it is right).
  static uint16_t udp6_sum(const std::vector<uint8_t>& frame) {
    const size_t udp = 14 + 40;
    const size_t length = frame.size() - udp;
    uint32_t sum = 17 + static_cast<uint32_t>(length);
    for (size_t i = 14 + 8; i < udp; i += 2) sum += (frame[i] << 8) | frame[i + 1];  // addresses
    for (size_t i = udp; i < frame.size(); i += 2) {
      sum += (frame[i] << 8) | (i + 1 < frame.size() ? frame[i + 1] : 0);
    }
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(sum);
  }

  std::vector<uint8_t> inner_;
};

TEST_F(GueIpv6Test, TheOuterUdpChecksumCoversThePacketByDefault) {
  const std::vector<uint8_t> out = forward_one(false);
  ASSERT_EQ(out.size(), inner_.size() + 40 + 8);
  ASSERT_EQ(out[20], 17) << "IPv6 next header: UDP";
  EXPECT_EQ((out[54 + 2] << 8) | out[54 + 3], 6080) << "to the GUE port";
  EXPECT_NE((out[54 + 6] << 8) | out[54 + 7], 0);
  EXPECT_EQ(udp6_sum(out), 0xffff) << "a valid UDP checksum over the whole tunnelled packet";
  EXPECT_TRUE(std::equal(inner_.begin() + 14, inner_.end(), out.begin() + 62)) << "the inner packet unchanged";
}

TEST_F(GueIpv6Test, WithZeroChecksumTheOuterUdpChecksumIsZero) {
  const std::vector<uint8_t> out = forward_one(true);
  ASSERT_EQ(out.size(), inner_.size() + 40 + 8);
  ASSERT_EQ(out[20], 17);
  EXPECT_EQ((out[54 + 6] << 8) | out[54 + 7], 0) << "RFC 6935: zero UDP checksum for the tunnel";
  EXPECT_TRUE(std::equal(inner_.begin() + 14, inner_.end(), out.begin() + 62)) << "the inner packet unchanged";
  EXPECT_EQ(lcore_.drops[static_cast<uint32_t>(DropReason::kNoLocalAddress)], 0u);
}

class FullNatTest : public WorkerTest {
 protected:
  void SetUp() override {
    WorkerTest::SetUp();
    inet_pton(AF_INET, "10.0.0.2", port_.nat_ipv4[0]);
    port_.nat_ipv4_count = 1;
    port_.nat_port_first = 40000;
    port_.nat_port_last = 40003;  // four local ports
  }

  static FrameSpec client(uint16_t port, uint8_t flags = 0x10) {
    FrameSpec spec = WorkerTest::client(port, flags);
    spec.dst = "10.0.0.101";
    spec.dst_port = 443;
    return spec;
  }

  // Sends one frame; returns what came out (empty if nothing).
  std::vector<uint8_t> send_frame(const std::vector<uint8_t>& frame) {
    rte_mbuf* m = test::make_mbuf(frame);
    worker_->process_burst(port_, &m, 1);
    auto frames = test::drain_port();
    EXPECT_LE(frames.size(), 1u);
    return frames.empty() ? std::vector<uint8_t>() : frames[0];
  }

  // The backend's reply to a translated frame `out`: addresses and ports swapped.
  static std::vector<uint8_t> reply_to(const std::vector<uint8_t>& out, uint8_t flags = 0x12, uint8_t protocol = 6) {
    FrameSpec spec;
    spec.protocol = protocol;
    char address[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, out.data() + 30, address, sizeof address);
    spec.src = address;
    inet_ntop(AF_INET, out.data() + 26, address, sizeof address);
    spec.dst = address;
    spec.src_port = static_cast<uint16_t>(out[36] << 8 | out[37]);
    spec.dst_port = static_cast<uint16_t>(out[34] << 8 | out[35]);
    spec.tcp_flags = flags;
    spec.payload = {'o', 'k'};
    return build_frame(spec);
  }

  static uint16_t source_port(const std::vector<uint8_t>& out) { return static_cast<uint16_t>(out[34] << 8 | out[35]); }
};

TEST_F(FullNatTest, ClientTrafficIsTranslatedBothWays) {
  publish(kThree, true);
  const auto syn = build_frame(client(50000, 0x02));
  const auto out = send_frame(syn);
  ASSERT_EQ(out.size(), syn.size());
  EXPECT_EQ(backend_of_nat(out), maglev_choice_nat(50000));
  EXPECT_EQ(source_port(out), 40000) << "first local port of the range";
  EXPECT_EQ(out[26], 10);
  EXPECT_EQ(out[29], 2) << "from the local address";
  EXPECT_EQ(out[36] << 8 | out[37], 8080) << "to the backend port";
  EXPECT_EQ(test::inet_checksum(out.data() + 14, 20), 0);

  const auto back = send_frame(reply_to(out));
  ASSERT_FALSE(back.empty());
  EXPECT_EQ(0, std::memcmp(back.data(), "\x02\0\0\0\0\x10", 6)) << "to the MAC the client's packets came from";
  char text[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, back.data() + 26, text, sizeof text);
  EXPECT_STREQ(text, "10.0.0.101") << "from the VIP";
  inet_ntop(AF_INET, back.data() + 30, text, sizeof text);
  EXPECT_STREQ(text, "198.51.100.1") << "to the client";
  EXPECT_EQ(back[34] << 8 | back[35], 443);
  EXPECT_EQ(back[36] << 8 | back[37], 50000);
  EXPECT_EQ(test::inet_checksum(back.data() + 14, 20), 0);
  uint32_t pseudo = 6 + static_cast<uint32_t>(back.size() - 34);
  for (int i = 26; i < 34; i += 2) pseudo += back[i] << 8 | back[i + 1];
  EXPECT_EQ(test::inet_checksum(back.data() + 34, back.size() - 34, pseudo), 0) << "TCP checksum";
  EXPECT_EQ(lcore_.nat_sessions, 1u);
  EXPECT_EQ(lcore_.nat_replies, 1u);
  EXPECT_EQ(source_port(send_frame(build_frame(client(50000)))), 40000) << "the flow keeps its mapping";
}

TEST_F(FullNatTest, RepliesFollowTheClientSideRouterWhenItChanges) {
  publish(kThree, true);
  const auto out = send_frame(build_frame(client(50000, 0x02)));
  ASSERT_FALSE(out.empty());
  auto back = send_frame(reply_to(out));
  ASSERT_FALSE(back.empty());
  EXPECT_EQ(0, std::memcmp(back.data(), "\x02\0\0\0\0\x10", 6));
  auto moved = build_frame(client(50000));
  moved[11] = 0x20;  // the client's packets now arrive from another router
  ASSERT_FALSE(send_frame(moved).empty());
  back = send_frame(reply_to(out));
  ASSERT_FALSE(back.empty());
  EXPECT_EQ(0, std::memcmp(back.data(), "\x02\0\0\0\0\x20", 6)) << "the replies follow";
}

TEST_F(FullNatTest, TheMssOfSynsTowardsBackendsIsClampedAndNoOtherPacket) {
  settings_.tcp_mss_clamp = 1200;
  start_worker(1000, false);
  publish(kThree, true);
  const auto tcp_ok = [](const std::vector<uint8_t>& out) {
    uint32_t pseudo = 6 + static_cast<uint32_t>(out.size() - 34);
    for (int i = 26; i < 34; i += 2) pseudo += out[i] << 8 | out[i + 1];
    return test::inet_checksum(out.data() + 34, out.size() - 34, pseudo) == 0;
  };
  FrameSpec spec = client(50000, 0x02);
  spec.tcp_options = test::mss_option(1460);
  const auto syn = send_frame(build_frame(spec));
  ASSERT_EQ(syn.size(), 58u);
  EXPECT_EQ(syn[56] << 8 | syn[57], 1200) << "clamped";
  EXPECT_TRUE(tcp_ok(syn));
  spec.tcp_flags = 0x10;
  const auto ack = send_frame(build_frame(spec));
  ASSERT_EQ(ack.size(), 58u);
  EXPECT_EQ(ack[56] << 8 | ack[57], 1460) << "only a SYN carries an MSS that counts";
  EXPECT_TRUE(tcp_ok(ack));
}

TEST_F(FullNatTest, FullnatSynsKeepTheirEntriesUnderAFlood) {
  publish(kThree, true);
  for (uint32_t i = 0; i < kMinSynFloodPerS + 100; ++i) send_frame(build_frame(client(static_cast<uint16_t>(20000 + i), 0x02)));
  EXPECT_EQ(lcore_.syn_unrecorded, 0u) << "a fullnat flow needs its entry for the replies";
  EXPECT_EQ(lcore_.flow_inserts, kMinSynFloodPerS + 100);
}

TEST_F(FullNatTest, FullnatIsARoutingHopBothWays) {
  publish(kThree, true);
  const auto out = send_frame(build_frame(client(50100, 0x02)));
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out[22], 60) << "TTL 61 in, 60 out";
  EXPECT_EQ(test::inet_checksum(out.data() + 14, 20), 0);
  auto reply = reply_to(out);
  const auto back = send_frame(reply);
  ASSERT_FALSE(back.empty());
  EXPECT_EQ(back[22], reply[22] - 1);
  EXPECT_EQ(test::inet_checksum(back.data() + 14, 20), 0);

  auto dying = build_frame(client(50101, 0x02));
  dying[22] = 1;  // TTL 1: this hop would make it 0
  fix_ipv4_checksum(dying);
  EXPECT_TRUE(send_frame(dying).empty());
  EXPECT_EQ(drops(DropReason::kTtlExceeded), 1u);
  EXPECT_EQ(lcore_.nat_sessions, 1u) << "no local port spent on it";
  reply[22] = 1;
  fix_ipv4_checksum(reply);
  EXPECT_TRUE(send_frame(reply).empty());
  EXPECT_EQ(drops(DropReason::kTtlExceeded), 2u);
}

TEST_F(FullNatTest, ExhaustedPortsAreACountedDropAndRecover) {
  publish(kThree, true);
  std::vector<std::vector<uint8_t>> mapped;
  for (uint16_t p = 51000; p < 51004; ++p) mapped.push_back(send_frame(build_frame(client(p, 0x02))));
  // Every backend has its own port space: four flows to one backend exhaust four ports.
  std::map<std::string, int> per_backend;
  for (const auto& out : mapped) ++per_backend[backend_of_nat(out)];
  uint16_t extra = 0;
  std::string full;
  for (const auto& [name, count] : per_backend) full = count > per_backend[full] ? name : full;
  // Fill the busiest backend's four ports, then one more flow to it must be refused.
  uint16_t p = 52000;
  while (per_backend[full] < 4) {
    if (maglev_choice_nat(p) == full && !send_frame(build_frame(client(p, 0x02))).empty()) ++per_backend[full];
    ++p;
  }
  while (maglev_choice_nat(p) != full) ++p;
  extra = p;
  EXPECT_TRUE(send_frame(build_frame(client(extra, 0x02))).empty());
  EXPECT_EQ(drops(DropReason::kNatPortsExhausted), 1u);

  // One of that backend's connections is reset by its client: once the closed timeout
  // (5 s) has passed its port is free again.
  uint16_t victim = 0;
  for (uint16_t q = 51000; q < p && victim == 0; ++q) victim = maglev_choice_nat(q) == full ? q : 0;
  send_frame(build_frame(client(victim, 0x14)));  // RST
  worker_->set_clock(1000 + 6);
  EXPECT_FALSE(send_frame(build_frame(client(extra, 0x02))).empty()) << "the freed port is used again";
}

TEST_F(FullNatTest, RepliesWithoutASessionAreDropped) {
  publish(kThree, true);
  FrameSpec stray;
  stray.src = "10.0.0.11";
  stray.dst = "10.0.0.2";
  stray.src_port = 8080;
  stray.dst_port = 40002;
  EXPECT_TRUE(send_frame(build_frame(stray)).empty());
  EXPECT_EQ(drops(DropReason::kNatNoSession), 1u);
}

TEST_F(FullNatTest, ARepickedFlowGetsANewMappingAndTheOldBackendIsCutOff) {
  publish(kThree, true);
  uint16_t port = 0;
  for (uint16_t p = 53000; p < 54000 && port == 0; ++p) port = maglev_choice_nat(p) == "gw2" ? p : 0;
  const auto first = send_frame(build_frame(client(port, 0x02)));
  ASSERT_EQ(backend_of_nat(first), "gw2");
  publish({kThree[0], kThree[2]}, true);
  const auto second = send_frame(build_frame(client(port)));
  ASSERT_FALSE(second.empty());
  EXPECT_NE(backend_of_nat(second), "gw2");
  EXPECT_TRUE(send_frame(reply_to(first)).empty()) << "gw2's late reply maps to nothing";
  EXPECT_FALSE(send_frame(reply_to(second)).empty()) << "the new backend's reply goes through";
}

TEST_F(FullNatTest, LocalPortsAreChosenSoRepliesReachTheSameWorker) {
  publish(kThree, true);
  port_.nat_port_first = 1024;
  port_.nat_port_last = 65535;
  port_.queue_count = 4;
  for (uint16_t queue = 0; queue < 4; ++queue) {
    port_.queue_id = queue;  // as if this worker owned queue `queue` of a 4-queue port
    for (uint16_t p = 0; p < 20; ++p) {
      const auto out = send_frame(build_frame(client(static_cast<uint16_t>(55000 + queue * 100 + p), 0x02)));
      ASSERT_FALSE(out.empty());
      // The reply tuple as the NIC hashes it: backend -> local, backend port, local port.
      std::vector<uint8_t> tuple(out.begin() + 30, out.begin() + 34);
      tuple.insert(tuple.end(), out.begin() + 26, out.begin() + 30);
      tuple.insert(tuple.end(), {out[36], out[37], out[34], out[35]});
      EXPECT_EQ(reference_toeplitz(tuple) % 4, queue) << "port " << source_port(out);
    }
  }
}

// A local port is reused after its connection closed: the first reply of the new
// connection must be translated. Before FlowTable::claim, the expired NAT entry stayed
// beside a second copy of the same key and the SYN-ACK met the stale one
// (nat_no_session): 64 connections took one second longer each.
class NatPortReuseTest : public FullNatTest, public ::testing::WithParamInterface<int> {
 protected:
  // 0: probing only; 1: hints, not swept since the first round; 2: hints swept.
  int variant() const { return GetParam(); }

  // Opens a connection from client `p` (SYN, the backend's SYN-ACK, ACK); returns
  // whether the SYN-ACK came back translated.
  bool handshake(uint16_t p, abi::L4Protocol protocol) {
    FrameSpec spec = client(p, 0x02);
    if (protocol == abi::L4Protocol::kUdp) spec.protocol = 17;
    const auto out = send_frame(build_frame(spec));
    if (out.empty()) return false;
    const auto reply = protocol == abi::L4Protocol::kUdp ? reply_to(out, 0, 17) : reply_to(out);
    const bool translated = !send_frame(reply).empty();
    if (protocol == abi::L4Protocol::kTcp) send_frame(build_frame(client(p, 0x10)));
    return translated;
  }
  void two_rounds(abi::L4Protocol protocol, uint32_t idle_s) {
    port_.nat_port_first = 40000;
    port_.nat_port_last = 40063;  // 64 local ports
    if (variant() != 0) start_worker(1000, true);
    publish({kThree[0]}, true, protocol);
    for (uint16_t p = 0; p < 64; ++p) {
      ASSERT_TRUE(handshake(static_cast<uint16_t>(41000 + p), protocol)) << "round 1, client " << p;
      if (protocol == abi::L4Protocol::kTcp) send_frame(build_frame(client(static_cast<uint16_t>(41000 + p), 0x11)));
    }
    EXPECT_EQ(drops(DropReason::kNatNoSession), 0u);
    worker_->set_clock(1000 + idle_s + 1);  // every mapping of round 1 has expired
    if (variant() == 2) worker_->sweep_nat(worker_->nat().bucket_count());
    int late = 0;
    for (uint16_t p = 0; p < 64; ++p) late += !handshake(static_cast<uint16_t>(42000 + p), protocol);
    EXPECT_EQ(late, 0) << "first replies of round 2 dropped";
    EXPECT_EQ(drops(DropReason::kNatNoSession), 0u);
    EXPECT_EQ(drops(DropReason::kNatPortsExhausted), 0u);
    EXPECT_EQ(lcore_.nat_sessions, 128u);
    EXPECT_EQ(worker_->nat().entries(), 64u) << "one NAT entry per local port: no stale copies";
  }
};

TEST_P(NatPortReuseTest, TcpFirstSynAckOfAReusedPortIsTranslated) {
  two_rounds(abi::L4Protocol::kTcp, FlowTimeouts{}.closing_s);
}

TEST_P(NatPortReuseTest, UdpFirstReplyOfAReusedPortIsTranslated) {
  two_rounds(abi::L4Protocol::kUdp, FlowTimeouts{}.udp_s);
}

INSTANTIATE_TEST_SUITE_P(Allocation, NatPortReuseTest, ::testing::Values(0, 1, 2),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(info.param == 0 ? "ProbingOnly" : info.param == 1 ? "StaleHints" : "SweptHints");
                         });

// After a restart (a new worker adopting the tables), a backend holding a long run of
// live local ports still gets new connections: the hints skip the run a word at a time,
// where probing gave up after 64 tries from the start of the range.
TEST_F(FullNatTest, ARestartFindsAFreePortPastALongRunOfLivePorts) {
  port_.nat_port_first = 40000;
  port_.nat_port_last = 40199;
  start_worker(1000, true);
  publish({kThree[0]}, true);
  for (uint16_t p = 0; p < 100; ++p) ASSERT_FALSE(send_frame(build_frame(client(static_cast<uint16_t>(43000 + p), 0x02))).empty());
  EXPECT_EQ(worker_->nat_hints().held_ports(0), 100u);

  start_worker(1001, true);  // restarted: the full sweep rebuilds the hints from the table
  EXPECT_EQ(worker_->nat_hints().held_ports(0), 100u);
  const auto out = send_frame(build_frame(client(44000, 0x02)));
  ASSERT_FALSE(out.empty()) << "nat_ports_exhausted=" << drops(DropReason::kNatPortsExhausted);
  EXPECT_EQ(source_port(out), 40100) << "the first port no connection holds";
  EXPECT_EQ(drops(DropReason::kNatPortsExhausted), 0u);
}

// Ports are unique per backend: with every port held towards one backend, another
// backend's connections still get one, and a refusal is counted only when the backend
// itself has none left.
TEST_F(FullNatTest, APortHeldTowardsOneBackendStillServesAnother) {
  start_worker(1000, true);  // four local ports, 40000-40003
  publish(kThree, true);
  std::map<std::string, std::vector<uint16_t>> by_backend;
  for (uint16_t p = 45000; p < 46000; ++p) by_backend[maglev_choice_nat(p)].push_back(p);
  for (int i = 0; i < 4; ++i) ASSERT_FALSE(send_frame(build_frame(client(by_backend["gw1"][i], 0x02))).empty());
  EXPECT_TRUE(send_frame(build_frame(client(by_backend["gw1"][4], 0x02))).empty());
  EXPECT_EQ(drops(DropReason::kNatPortsExhausted), 1u) << "gw1 has no port left";
  for (int i = 0; i < 4; ++i) {
    EXPECT_FALSE(send_frame(build_frame(client(by_backend["gw2"][i], 0x02))).empty()) << "gw2 shares the ports";
  }
  EXPECT_EQ(drops(DropReason::kNatPortsExhausted), 1u);
  EXPECT_EQ(lcore_.nat_sessions, 8u);
}

// The sweep frees expired NAT entries (the table's count stays true) and clears their
// ports in the hints: a port taken during a pass counts as held for that pass, so it
// shows free after the next one.
TEST_F(FullNatTest, TheSweepFreesExpiredMappingsAndTheirPorts) {
  start_worker(1000, true);
  publish(kThree, true);
  for (uint16_t p = 46000; p < 46003; ++p) ASSERT_FALSE(send_frame(build_frame(client(p, 0x02))).empty());
  EXPECT_EQ(worker_->nat().entries(), 3u);
  EXPECT_EQ(worker_->nat_hints().held_ports(0), 3u);
  worker_->set_clock(1000 + FlowTimeouts{}.syn_s + 1);
  worker_->sweep_nat(worker_->nat().bucket_count());
  EXPECT_EQ(worker_->nat().entries(), 0u);
  EXPECT_EQ(worker_->nat_hints().held_ports(0), 3u) << "taken during this pass";
  worker_->sweep_nat(worker_->nat().bucket_count());
  EXPECT_EQ(worker_->nat_hints().held_ports(0), 0u);
}

}  // namespace
}  // namespace eclb::dp

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new eclb::test::DpdkTestEnv);
  return RUN_ALL_TESTS();
}
