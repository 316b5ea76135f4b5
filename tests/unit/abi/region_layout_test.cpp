// The shared-memory layouts, as text compared with reviewed fixtures in
// tests/fixtures/abi/: the table region (eclb-control writes, the dataplane reads), the
// flow region (carried across dataplane upgrades) and the stats region. A difference
// here is an ABI change: bump the region's major version (its minor for an append), and
// regenerate the fixtures with ECLB_UPDATE_FIXTURES=1 for review.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "abi/flow_region.h"
#include "abi/region_prologue.h"
#include "abi/stats_region.h"
#include "abi/table_region.h"
#include "common/table_layout.h"

namespace eclb {
namespace {

#define ECLB_FIELD(type, field) \
  out += fmt::format("  {}.{} @{} size {}\n", #type, #field, offsetof(abi::type, field), sizeof(abi::type::field))
// The prologue's fields, named as if they were the header's own (as they were before the
// prologue was a struct of its own: the table region's fixture did not change).
#define ECLB_PROLOGUE(type)                                                                                         \
  for (const auto& [name, offset, size] :                                                                          \
       {std::tuple{"magic", offsetof(abi::RegionPrologue, magic), sizeof(uint64_t)},                              \
        std::tuple{"abi_major", offsetof(abi::RegionPrologue, abi_major), sizeof(uint16_t)},                      \
        std::tuple{"abi_minor", offsetof(abi::RegionPrologue, abi_minor), sizeof(uint16_t)},                      \
        std::tuple{"header_bytes", offsetof(abi::RegionPrologue, header_bytes), sizeof(uint32_t)},                \
        std::tuple{"region_bytes", offsetof(abi::RegionPrologue, region_bytes), sizeof(uint64_t)},                \
        std::tuple{"generation", offsetof(abi::RegionPrologue, generation), sizeof(uint64_t)},                    \
        std::tuple{"checksum", offsetof(abi::RegionPrologue, checksum), sizeof(uint64_t)}}) {                     \
    out += fmt::format("  {}.{} @{} size {}\n", #type, name, offsetof(abi::type, prologue) + offset, size);         \
  }

std::string table_layout() {
  std::string out = fmt::format("table region ABI {}.{}\n", abi::kTableAbiMajor, abi::kTableAbiMinor);
#define ECLB_FIELD(type, field) out += fmt::format("  {}.{} @{} size {}\n", #type, #field, offsetof(abi::type, field), sizeof(abi::type::field))
  out += fmt::format("RegionHeader size {} align {}\n", sizeof(abi::RegionHeader), alignof(abi::RegionHeader));
  ECLB_PROLOGUE(RegionHeader); ECLB_FIELD(RegionHeader, copy_count); ECLB_FIELD(RegionHeader, max_vips);
  ECLB_FIELD(RegionHeader, max_backends); ECLB_FIELD(RegionHeader, max_readers);
  ECLB_FIELD(RegionHeader, max_table_slots); ECLB_FIELD(RegionHeader, copy_offset); ECLB_FIELD(RegionHeader, copy_bytes);
  ECLB_FIELD(RegionHeader, reader_offset); ECLB_FIELD(RegionHeader, vip_index_capacity);
  ECLB_FIELD(RegionHeader, retired); ECLB_FIELD(RegionHeader, writer_pid); ECLB_FIELD(RegionHeader, publish_unix_ns);
  ECLB_FIELD(RegionHeader, next_incarnation);
  out += fmt::format("ReaderSlot size {} align {}\n", sizeof(abi::ReaderSlot), alignof(abi::ReaderSlot));
  ECLB_FIELD(ReaderSlot, seen_generation); ECLB_FIELD(ReaderSlot, pid); ECLB_FIELD(ReaderSlot, state);
  ECLB_FIELD(ReaderSlot, attach_unix_ns); ECLB_FIELD(ReaderSlot, evictions); ECLB_FIELD(ReaderSlot, role);
  out += fmt::format("CopyHeader size {} align {}\n", sizeof(abi::CopyHeader), alignof(abi::CopyHeader));
  ECLB_FIELD(CopyHeader, generation); ECLB_FIELD(CopyHeader, checksum); ECLB_FIELD(CopyHeader, used_bytes);
  ECLB_FIELD(CopyHeader, vip_count); ECLB_FIELD(CopyHeader, backend_count); ECLB_FIELD(CopyHeader, slot_count);
  ECLB_FIELD(CopyHeader, vips_offset); ECLB_FIELD(CopyHeader, backends_offset);
  ECLB_FIELD(CopyHeader, vip_index_offset); ECLB_FIELD(CopyHeader, backend_by_id_offset);
  ECLB_FIELD(CopyHeader, slots_offset); ECLB_FIELD(CopyHeader, built_unix_ns);
  ECLB_FIELD(CopyHeader, flow_hash_seed); ECLB_FIELD(CopyHeader, address_index_offset);
  out += fmt::format("VipEntry size {} align {}\n", sizeof(abi::VipEntry), alignof(abi::VipEntry));
  ECLB_FIELD(VipEntry, address); ECLB_FIELD(VipEntry, port); ECLB_FIELD(VipEntry, family);
  ECLB_FIELD(VipEntry, protocol); ECLB_FIELD(VipEntry, mode); ECLB_FIELD(VipEntry, table_size);
  ECLB_FIELD(VipEntry, backend_first); ECLB_FIELD(VipEntry, backend_count); ECLB_FIELD(VipEntry, up_count);
  ECLB_FIELD(VipEntry, slots_first); ECLB_FIELD(VipEntry, id); ECLB_FIELD(VipEntry, name);
  out += fmt::format("BackendEntry size {} align {}\n", sizeof(abi::BackendEntry), alignof(abi::BackendEntry));
  ECLB_FIELD(BackendEntry, address); ECLB_FIELD(BackendEntry, port); ECLB_FIELD(BackendEntry, family);
  ECLB_FIELD(BackendEntry, state); ECLB_FIELD(BackendEntry, weight); ECLB_FIELD(BackendEntry, id);
  ECLB_FIELD(BackendEntry, incarnation); ECLB_FIELD(BackendEntry, slot_count);
  ECLB_FIELD(BackendEntry, vip_position); ECLB_FIELD(BackendEntry, name);
  const auto layout = TableLayout::compute(TableCapacity{});
  out += fmt::format("default capacity: region {} bytes, copy {} bytes, slots at {}\n", layout->region_bytes,
                     layout->copy_bytes, layout->slots_offset);
  out += fmt::format("vip_key_hash(10.0.0.1, 443, tcp) = {:#018x}\n",
                     abi::vip_key_hash({10, 0, 0, 1}, 443, abi::L4Protocol::kTcp));
  return out;
}


std::string flow_layout() {
  std::string out = fmt::format("flow region ABI {}.{}, {} ways\n", abi::kFlowAbiMajor, abi::kFlowAbiMinor, abi::kFlowWays);
  out += fmt::format("FlowRegionHeader size {} align {}\n", sizeof(abi::FlowRegionHeader), alignof(abi::FlowRegionHeader));
  ECLB_PROLOGUE(FlowRegionHeader);
  ECLB_FIELD(FlowRegionHeader, worker_count); ECLB_FIELD(FlowRegionHeader, bucket_count);
  ECLB_FIELD(FlowRegionHeader, worker_offset); ECLB_FIELD(FlowRegionHeader, worker_bytes);
  ECLB_FIELD(FlowRegionHeader, owner_pid); ECLB_FIELD(FlowRegionHeader, created_unix_ns);
  ECLB_FIELD(FlowRegionHeader, neighbour_offset); ECLB_FIELD(FlowRegionHeader, neighbour_capacity);
  out += fmt::format("FlowNeighbour size {} align {}\n", sizeof(abi::FlowNeighbour), alignof(abi::FlowNeighbour));
  ECLB_FIELD(FlowNeighbour, address); ECLB_FIELD(FlowNeighbour, mac); ECLB_FIELD(FlowNeighbour, port_id);
  ECLB_FIELD(FlowNeighbour, family); ECLB_FIELD(FlowNeighbour, valid); ECLB_FIELD(FlowNeighbour, confirmed_s);
  out += fmt::format("FlowWorkerHeader size {} align {}\n", sizeof(abi::FlowWorkerHeader), alignof(abi::FlowWorkerHeader));
  ECLB_FIELD(FlowWorkerHeader, entries); ECLB_FIELD(FlowWorkerHeader, nat_entries);
  out += fmt::format("FlowBucket size {} align {}\n", sizeof(abi::FlowBucket), alignof(abi::FlowBucket));
  ECLB_FIELD(FlowBucket, signature); ECLB_FIELD(FlowBucket, state); ECLB_FIELD(FlowBucket, last_seen_s);
  ECLB_FIELD(FlowBucket, overflowed);
  out += fmt::format("FlowEntry size {} align {}\n", sizeof(abi::FlowEntry), alignof(abi::FlowEntry));
  ECLB_FIELD(FlowEntry, src); ECLB_FIELD(FlowEntry, dst); ECLB_FIELD(FlowEntry, src_port_be);
  ECLB_FIELD(FlowEntry, dst_port_be); ECLB_FIELD(FlowEntry, family); ECLB_FIELD(FlowEntry, protocol);
  ECLB_FIELD(FlowEntry, vip_id); ECLB_FIELD(FlowEntry, backend_id); ECLB_FIELD(FlowEntry, backend_incarnation);
  ECLB_FIELD(FlowEntry, nat_port_be); ECLB_FIELD(FlowEntry, nat_address); ECLB_FIELD(FlowEntry, peer_mac);
  out += fmt::format("NatReverseEntry size {} align {}\n", sizeof(abi::NatReverseEntry), alignof(abi::NatReverseEntry));
  ECLB_FIELD(NatReverseEntry, src); ECLB_FIELD(NatReverseEntry, dst); ECLB_FIELD(NatReverseEntry, src_port_be);
  ECLB_FIELD(NatReverseEntry, dst_port_be); ECLB_FIELD(NatReverseEntry, family); ECLB_FIELD(NatReverseEntry, protocol);
  ECLB_FIELD(NatReverseEntry, forward_index); ECLB_FIELD(NatReverseEntry, vip_id);
  out += fmt::format("a worker block of 1024 buckets: {} bytes\n", abi::flow_worker_bytes(1024));
  return out;
}

std::string stats_layout() {
  std::string out = fmt::format("stats region ABI {}.{}, {} drop slots, {} drop reasons\n", abi::kStatsAbiMajor,
                                abi::kStatsAbiMinor, abi::kDropReasonSlots, static_cast<int>(abi::DropReason::kCount));
  for (uint32_t r = 0; r < static_cast<uint32_t>(abi::DropReason::kCount); ++r) {
    out += fmt::format("  drop {} {}\n", r, abi::drop_reason_name(static_cast<abi::DropReason>(r)));
  }
  out += fmt::format("StatsHeader size {} align {}\n", sizeof(abi::StatsHeader), alignof(abi::StatsHeader));
  ECLB_PROLOGUE(StatsHeader);
  ECLB_FIELD(StatsHeader, lcore_count); ECLB_FIELD(StatsHeader, max_vips); ECLB_FIELD(StatsHeader, max_backends);
  ECLB_FIELD(StatsHeader, drop_slots); ECLB_FIELD(StatsHeader, lcore_offset); ECLB_FIELD(StatsHeader, lcore_bytes);
  ECLB_FIELD(StatsHeader, dataplane_pid); ECLB_FIELD(StatsHeader, heartbeat_unix_ns);
  ECLB_FIELD(StatsHeader, slow_path_offset); ECLB_FIELD(StatsHeader, port_offset); ECLB_FIELD(StatsHeader, port_count);
  ECLB_FIELD(StatsHeader, port_bytes);
  out += fmt::format("LcoreStats size {} align {}\n", sizeof(abi::LcoreStats), alignof(abi::LcoreStats));
  ECLB_FIELD(LcoreStats, rx_packets); ECLB_FIELD(LcoreStats, rx_bytes); ECLB_FIELD(LcoreStats, tx_packets);
  ECLB_FIELD(LcoreStats, tx_bytes); ECLB_FIELD(LcoreStats, table_generation); ECLB_FIELD(LcoreStats, flow_entries);
  ECLB_FIELD(LcoreStats, flow_inserts); ECLB_FIELD(LcoreStats, flow_evictions_established);
  ECLB_FIELD(LcoreStats, flow_evictions_other); ECLB_FIELD(LcoreStats, flow_guard_skips);
  ECLB_FIELD(LcoreStats, flow_repicks); ECLB_FIELD(LcoreStats, slow_path_packets);
  ECLB_FIELD(LcoreStats, icmp_echo_replies); ECLB_FIELD(LcoreStats, icmp_too_big_sent);
  ECLB_FIELD(LcoreStats, icmp_errors_forwarded); ECLB_FIELD(LcoreStats, fragments); ECLB_FIELD(LcoreStats, nat_sessions);
  ECLB_FIELD(LcoreStats, nat_replies); ECLB_FIELD(LcoreStats, exception_packets); ECLB_FIELD(LcoreStats, syn_unrecorded);
  ECLB_FIELD(LcoreStats, drops);
  out += fmt::format("VipStats size {}, BackendStats size {}\n", sizeof(abi::VipStats), sizeof(abi::BackendStats));
  out += fmt::format("SlowPathStats size {} align {}\n", sizeof(abi::SlowPathStats), alignof(abi::SlowPathStats));
  ECLB_FIELD(SlowPathStats, arp_replies); ECLB_FIELD(SlowPathStats, na_sent); ECLB_FIELD(SlowPathStats, requests_sent);
  ECLB_FIELD(SlowPathStats, learned); ECLB_FIELD(SlowPathStats, ignored); ECLB_FIELD(SlowPathStats, to_kernel);
  ECLB_FIELD(SlowPathStats, dropped);
  out += fmt::format("PortStats size {} align {}\n", sizeof(abi::PortStats), alignof(abi::PortStats));
  ECLB_FIELD(PortStats, port_id); ECLB_FIELD(PortStats, xstat_count); ECLB_FIELD(PortStats, driver);
  ECLB_FIELD(PortStats, ipackets); ECLB_FIELD(PortStats, opackets); ECLB_FIELD(PortStats, ibytes);
  ECLB_FIELD(PortStats, obytes); ECLB_FIELD(PortStats, imissed); ECLB_FIELD(PortStats, ierrors);
  ECLB_FIELD(PortStats, oerrors); ECLB_FIELD(PortStats, rx_nombuf); ECLB_FIELD(PortStats, xstats);
  out += fmt::format("a block of 8 VIPs and 64 backends: {} bytes\n", abi::stats_lcore_bytes(8, 64));
  return out;
}

#undef ECLB_FIELD
#undef ECLB_PROLOGUE

std::string read_file(const std::string& path) {
  std::ifstream file(path);
  std::stringstream buffer;
  buffer << file.rdbuf();
  return buffer.str();
}

void expect_fixture(const std::string& name, const std::string& actual) {
  const std::string fixture = ECLB_SOURCE_DIR "/tests/fixtures/abi/" + name;
  if (std::getenv("ECLB_UPDATE_FIXTURES") != nullptr) std::ofstream(fixture, std::ios::trunc) << actual;
  EXPECT_EQ(read_file(fixture), actual) << name << " changed: see the comment at the top of this test";
}

TEST(RegionLayoutTest, TheTableRegionMatchesItsReviewedFixture) { expect_fixture("table_region.layout", table_layout()); }
TEST(RegionLayoutTest, TheFlowRegionMatchesItsReviewedFixture) { expect_fixture("flow_region.layout", flow_layout()); }
TEST(RegionLayoutTest, TheStatsRegionMatchesItsReviewedFixture) { expect_fixture("stats_region.layout", stats_layout()); }

TEST(RegionLayoutTest, EveryRegionOpensWithTheSamePrologue) {
  EXPECT_EQ(offsetof(abi::RegionHeader, prologue), 0u);
  EXPECT_EQ(offsetof(abi::FlowRegionHeader, prologue), 0u);
  EXPECT_EQ(offsetof(abi::StatsHeader, prologue), 0u);
  const abi::RegionPrologue p = abi::make_prologue(abi::kFlowRegionMagic, 1, 2, 128, 4096);
  EXPECT_EQ(abi::check_prologue(p, abi::kFlowRegionMagic, 1, 128, 0, 4096), abi::PrologueCheck::kOk);
  EXPECT_EQ(abi::check_prologue(p, abi::kStatsRegionMagic, 1, 128, 0, 4096), abi::PrologueCheck::kNotThisRegion);
  EXPECT_EQ(abi::check_prologue(p, abi::kFlowRegionMagic, 2, 128, 0, 4096), abi::PrologueCheck::kOtherMajor);
  EXPECT_EQ(abi::check_prologue(p, abi::kFlowRegionMagic, 1, 256, 0, 4096), abi::PrologueCheck::kShortHeader);
  EXPECT_EQ(abi::check_prologue(p, abi::kFlowRegionMagic, 1, 128, 0, 64), abi::PrologueCheck::kTruncated);
  EXPECT_EQ(abi::check_prologue(p, abi::kFlowRegionMagic, 1, 128, 7, 4096), abi::PrologueCheck::kBadChecksum);
  EXPECT_EQ(abi::check_prologue(p, abi::kFlowRegionMagic, 1, 128, 0, 2048), abi::PrologueCheck::kTruncated);
}

TEST(RegionLayoutTest, AHeaderChecksumIgnoresOnlyTheAtomicFields) {
  abi::FlowRegionHeader header{};
  header.prologue = abi::make_prologue(abi::kFlowRegionMagic, abi::kFlowAbiMajor, abi::kFlowAbiMinor, sizeof header, 1 << 20);
  header.worker_count = 2;
  const uint64_t sum = abi::flow_header_checksum(header);
  header.prologue.generation = 7;
  header.owner_pid = 1234;
  EXPECT_EQ(abi::flow_header_checksum(header), sum) << "generation and owner_pid change while the region lives";
  header.worker_count = 3;
  EXPECT_NE(abi::flow_header_checksum(header), sum);
}

}  // namespace
}  // namespace eclb
