// TableWriter: publication, adoption, stable ids, capacity, reader grace and reaping.
#include "control/publish/table_writer.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/table_reader.h"
#include "tests/unit/support/table_fixtures.h"
#include "tests/unit/support/temp_dir.h"

namespace eclb::ctl {
namespace {

using test::make_vip;

TableCapacity small_capacity() { return TableCapacity{8, 64, 8, 4096}; }

TableWriter open_writer(const std::string& path, TableCapacity capacity = small_capacity(),
                        std::chrono::milliseconds grace = std::chrono::milliseconds(1000)) {
  auto writer = TableWriter::open({path, capacity, grace});
  EXPECT_TRUE(writer.ok()) << writer.error().message;
  return std::move(writer).value();
}

TableSnapshot snapshot_of(const std::string& path) {
  auto segment = TableSegment::attach(path, MappedFile::Access::kReadOnly);
  EXPECT_TRUE(segment.ok()) << segment.error().message;
  auto snapshot = segment->snapshot();
  EXPECT_TRUE(snapshot.ok()) << snapshot.error().message;
  return std::move(snapshot).value();
}

const abi::BackendEntry* member_named(const TableSnapshot& snapshot, const std::string& name) {
  for (const abi::BackendEntry& backend : snapshot.view.backends()) {
    if (name == backend.name) return &backend;
  }
  return nullptr;
}

TEST(TableWriterTest, PublishedContentReadsBackThroughASnapshot) {
  test::TempDir dir;
  TableWriter writer = open_writer(dir.file("tables"));
  TableContent content;
  content.vips.push_back(make_vip("web", "10.0.0.100:443", 3, 251, 1));
  content.vips.push_back(make_vip("api", "10.0.0.101:80", 5, 257, 2));
  auto report = writer.publish(content);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->generation, 1u);

  const TableSnapshot snapshot = snapshot_of(dir.file("tables"));
  EXPECT_EQ(snapshot.generation, 1u);
  EXPECT_EQ(snapshot.writer_pid, static_cast<uint64_t>(getpid()));
  ASSERT_EQ(snapshot.view.vips().size(), 2u);
  const IpAddress vip_address = *IpAddress::parse("10.0.0.101");
  uint8_t key[16] = {};
  std::copy(vip_address.bytes.begin(), vip_address.bytes.end(), key);
  const abi::VipEntry* api = snapshot.view.find_vip(key, 80, abi::L4Protocol::kTcp);
  ASSERT_NE(api, nullptr);
  EXPECT_STREQ(api->name, "api");
  EXPECT_EQ(snapshot.view.find_vip(key, 81, abi::L4Protocol::kTcp), nullptr);
  EXPECT_EQ(snapshot.view.find_vip(key, 80, abi::L4Protocol::kUdp), nullptr);
  EXPECT_EQ(api->table_size, 257u);
  EXPECT_EQ(api->up_count, 5u);
  const auto slots = snapshot.view.slots_of(*api);
  EXPECT_TRUE(std::equal(slots.begin(), slots.end(), content.vips[1].slots.begin()));
  uint32_t owned = 0;
  for (const abi::BackendEntry& member : snapshot.view.backends_of(*api)) owned += member.slot_count;
  EXPECT_EQ(owned, 257u);
}

TEST(TableWriterTest, L7VipsAreListedButNeverMatchedByTheDataplane) {
  test::TempDir dir;
  TableWriter writer = open_writer(dir.file("tables"));
  TableContent content;
  content.vips.push_back(make_vip("agents", "10.0.0.100:443", 3, 251, 1));
  content.vips[0].mode = abi::ForwardMode::kL7Proxy;
  content.vips.push_back(make_vip("web", "10.0.0.101:80", 2, 251, 2));
  ASSERT_TRUE(writer.publish(content).ok());
  const TableSnapshot snapshot = snapshot_of(dir.file("tables"));
  ASSERT_EQ(snapshot.view.vips().size(), 2u);
  EXPECT_EQ(snapshot.view.vips()[0].mode, abi::ForwardMode::kL7Proxy);
  EXPECT_EQ(snapshot.view.slots_of(snapshot.view.vips()[0]).size(), 251u);
  uint8_t l7[16] = {10, 0, 0, 100};
  uint8_t l4[16] = {10, 0, 0, 101};
  EXPECT_EQ(snapshot.view.find_vip(l7, 443, abi::L4Protocol::kTcp), nullptr);
  EXPECT_EQ(snapshot.view.find_vip_address(l7), nullptr);  // no ARP answers for it either
  EXPECT_NE(snapshot.view.find_vip(l4, 80, abi::L4Protocol::kTcp), nullptr);
}

TEST(TableWriterTest, EveryPublishBumpsTheGenerationAndFlipsTheCopy) {
  test::TempDir dir;
  TableWriter writer = open_writer(dir.file("tables"));
  TableContent content;
  content.vips.push_back(make_vip("web", "10.0.0.100:443", 3));
  for (uint64_t expected = 1; expected <= 5; ++expected) {
    auto report = writer.publish(content);
    ASSERT_TRUE(report.ok());
    EXPECT_EQ(report->generation, expected);
    const TableView active = writer.segment().copy_view(static_cast<uint32_t>(expected % 2));
    EXPECT_EQ(active.header().generation, expected);
  }
}

TEST(TableWriterTest, ARestartedWriterAdoptsTheRegionWithItsGenerationAndIds) {
  test::TempDir dir;
  TableContent content;
  content.vips.push_back(make_vip("web", "10.0.0.100:443", 4));
  uint32_t id_before = 0, incarnation_before = 0;
  {
    TableWriter writer = open_writer(dir.file("tables"));
    EXPECT_FALSE(writer.adopted());
    ASSERT_TRUE(writer.publish(content).ok());
    ASSERT_TRUE(writer.publish(content).ok());
    const abi::BackendEntry* vm3 = member_named(snapshot_of(dir.file("tables")), "vm3");
    id_before = vm3->id;
    incarnation_before = vm3->incarnation;
  }
  TableWriter writer = open_writer(dir.file("tables"));
  EXPECT_TRUE(writer.adopted());
  EXPECT_EQ(writer.generation(), 2u);
  auto report = writer.publish(content);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->generation, 3u);
  const abi::BackendEntry* vm3 = member_named(snapshot_of(dir.file("tables")), "vm3");
  EXPECT_EQ(vm3->id, id_before);
  EXPECT_EQ(vm3->incarnation, incarnation_before);
}

TEST(TableWriterTest, ASecondWriterIsRefused) {
  test::TempDir dir;
  TableWriter first = open_writer(dir.file("tables"));
  auto second = TableWriter::open({dir.file("tables"), small_capacity()});
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("another eclb-control is publishing"), std::string::npos);
}

TEST(TableWriterTest, MembersKeepIdsAndNewOnesGetFreshIncarnations) {
  test::TempDir dir;
  TableWriter writer = open_writer(dir.file("tables"));
  TableContent content;
  content.vips.push_back(make_vip("web", "10.0.0.100:443", 3));
  ASSERT_TRUE(writer.publish(content).ok());
  const TableSnapshot before = snapshot_of(dir.file("tables"));
  const abi::BackendEntry vm1 = *member_named(before, "vm1");
  const abi::BackendEntry vm2 = *member_named(before, "vm2");
  const abi::BackendEntry vm3 = *member_named(before, "vm3");

  // vm2 leaves, a new member arrives: it may reuse vm2's id, never its incarnation.
  VipContent& vip = content.vips[0];
  vip.members.erase(vip.members.begin() + 1);
  vip.members.push_back({"vm9", test::endpoint("10.9.9.9:8080"), 1, abi::BackendState::kUp});
  std::vector<MaglevBackend> weighted;
  for (const MemberContent& member : vip.members) weighted.push_back({member.endpoint, member.weight});
  const MaglevTable table = *MaglevTable::build(weighted, vip.table_size);
  vip.slots.assign(table.slots().begin(), table.slots().end());
  ASSERT_TRUE(writer.publish(content).ok());
  const TableSnapshot after = snapshot_of(dir.file("tables"));
  EXPECT_EQ(member_named(after, "vm1")->id, vm1.id);
  EXPECT_EQ(member_named(after, "vm1")->incarnation, vm1.incarnation);
  EXPECT_EQ(member_named(after, "vm3")->id, vm3.id);
  EXPECT_EQ(member_named(after, "vm2"), nullptr);
  const abi::BackendEntry* vm9 = member_named(after, "vm9");
  EXPECT_EQ(vm9->id, vm2.id);
  EXPECT_GT(vm9->incarnation, vm3.incarnation);
  EXPECT_EQ(after.view.backend_with_id(vm9->id), vm9);
  EXPECT_EQ(after.view.backend_with_id(vm1.id)->port, 8080);
}

TEST(TableWriterTest, ACapacityChangeReplacesTheFileAndRetiresTheOldOne) {
  test::TempDir dir;
  auto old_segment = [&] {
    TableWriter writer = open_writer(dir.file("tables"));
    TableContent content;
    content.vips.push_back(make_vip("web", "10.0.0.100:443", 3));
    EXPECT_TRUE(writer.publish(content).ok());
    return TableSegment::attach(dir.file("tables"), MappedFile::Access::kReadOnly);
  }();
  ASSERT_TRUE(old_segment.ok());
  EXPECT_FALSE(old_segment->retired());
  TableCapacity bigger = small_capacity();
  bigger.max_vips = 16;
  TableWriter writer = open_writer(dir.file("tables"), bigger);
  EXPECT_FALSE(writer.adopted());
  EXPECT_TRUE(old_segment->retired());
  EXPECT_EQ(writer.generation(), 0u);
  auto fresh = TableSegment::attach(dir.file("tables"), MappedFile::Access::kReadOnly);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->layout().capacity.max_vips, 16u);
}

TEST(TableWriterTest, ContentBeyondCapacityIsRefusedAndNothingIsPublished) {
  test::TempDir dir;
  TableWriter writer = open_writer(dir.file("tables"));
  TableContent content;
  for (int i = 0; i < 9; ++i) content.vips.push_back(make_vip("v" + std::to_string(i), "10.0.0." + std::to_string(i + 1) + ":80", 1, 13));
  auto too_many_vips = writer.publish(content);
  ASSERT_FALSE(too_many_vips.ok());
  EXPECT_EQ(too_many_vips.error().message, "publish: 9 VIPs exceed the region's max_vips 8");
  content.vips.resize(1);
  content.vips[0] = make_vip("big", "10.0.0.1:80", 3, 4099);
  auto too_many_slots = writer.publish(content);
  ASSERT_FALSE(too_many_slots.ok());
  EXPECT_EQ(too_many_slots.error().message, "publish: 4099 table slots exceed the region's max_table_slots 4096");
  EXPECT_EQ(writer.generation(), 0u);
}

TEST(TableWriterTest, SlotsMayOnlyPointAtUpMembers) {
  test::TempDir dir;
  TableWriter writer = open_writer(dir.file("tables"));
  TableContent content;
  content.vips.push_back(make_vip("web", "10.0.0.100:443", 3));
  content.vips[0].members[1].state = abi::BackendState::kDrained;  // but still in the slots
  auto report = writer.publish(content);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().message, "publish: vip \"web\": slot refers to member 1 which is not an up member");
}

TEST(TableWriterTest, AVipWithNoUpMemberPublishesAnEmptyTable) {
  test::TempDir dir;
  TableWriter writer = open_writer(dir.file("tables"));
  TableContent content;
  content.vips.push_back(make_vip("web", "10.0.0.100:443", 2));
  for (auto& member : content.vips[0].members) member.state = abi::BackendState::kDown;
  content.vips[0].slots.assign(251, abi::kNoBackend);
  ASSERT_TRUE(writer.publish(content).ok());
  const TableSnapshot snapshot = snapshot_of(dir.file("tables"));
  EXPECT_EQ(snapshot.view.vips()[0].up_count, 0u);
  for (const uint32_t slot : snapshot.view.slots_of(snapshot.view.vips()[0])) EXPECT_EQ(slot, abi::kNoBackend);
}

TEST(TableWriterTest, AReaderThatNeverMovesIsEvictedAfterTheGracePeriod) {
  test::TempDir dir;
  TableWriter writer = open_writer(dir.file("tables"), small_capacity(), std::chrono::milliseconds(50));
  auto segment = TableSegment::attach(dir.file("tables"), MappedFile::Access::kReadWrite);
  ASSERT_TRUE(segment.ok());
  auto reader = TableReader::claim(*segment, "stuck");
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  TableContent content;
  content.vips.push_back(make_vip("web", "10.0.0.100:443", 3));
  auto first = writer.publish(content);  // copy 1 was never used: no wait
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->readers_evicted, 0u);
  EXPECT_LT(first->waited, std::chrono::milliseconds(50));
  auto second = writer.publish(content);  // copy 0 "may" be in use: the reader saw gen 0
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->readers_evicted, 1u);
  EXPECT_GE(second->waited, std::chrono::milliseconds(50));

  // The reader comes back: it re-registers and the writer waits for it again.
  EXPECT_TRUE(reader->refresh());
  EXPECT_EQ(reader->generation(), 2u);
  auto third = writer.publish(content);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->readers_evicted, 0u);
}

TEST(TableWriterTest, AReaderThatRefreshesIsWaitedForNotEvicted) {
  test::TempDir dir;
  TableWriter writer = open_writer(dir.file("tables"), small_capacity(), std::chrono::milliseconds(5000));
  auto segment = TableSegment::attach(dir.file("tables"), MappedFile::Access::kReadWrite);
  ASSERT_TRUE(segment.ok());
  auto reader = TableReader::claim(*segment, "worker");
  ASSERT_TRUE(reader.ok());
  TableContent content;
  content.vips.push_back(make_vip("web", "10.0.0.100:443", 3));
  ASSERT_TRUE(writer.publish(content).ok());
  EXPECT_TRUE(reader->refresh());
  EXPECT_FALSE(reader->refresh());
  EXPECT_EQ(reader->view().vips().size(), 1u);
  auto second = writer.publish(content);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->readers_evicted, 0u);
  EXPECT_LT(second->waited, std::chrono::milliseconds(100));
}

TEST(TableWriterTest, AReaderWhoseProcessDiedIsReapedWithoutWaiting) {
  test::TempDir dir;
  TableWriter writer = open_writer(dir.file("tables"), small_capacity(), std::chrono::milliseconds(5000));
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto segment = TableSegment::attach(dir.file("tables"), MappedFile::Access::kReadWrite);
    if (!segment) _exit(2);
    auto reader = TableReader::claim(*segment, "doomed");
    _exit(reader.ok() ? 0 : 3);  // dies holding the slot, like a SIGKILLed dataplane
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  TableContent content;
  content.vips.push_back(make_vip("web", "10.0.0.100:443", 3));
  ASSERT_TRUE(writer.publish(content).ok());
  auto second = writer.publish(content);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->readers_reaped, 1u);
  EXPECT_LT(second->waited, std::chrono::milliseconds(1000));
}

}  // namespace
}  // namespace eclb::ctl
