// TableSegment: attaching refuses missing, empty, truncated, foreign and corrupt regions
// with one clear message, and the ABI layout matches its reviewed fixture.
#include "common/table_segment.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "common/shared_atomic.h"
#include "control/publish/table_writer.h"
#include "tests/unit/support/table_fixtures.h"
#include "tests/unit/support/temp_dir.h"

namespace eclb {
namespace {

std::string published_region(const test::TempDir& dir) {
  const std::string path = dir.file("tables");
  auto writer = ctl::TableWriter::open({path, TableCapacity{4, 16, 4, 1024}});
  EXPECT_TRUE(writer.ok());
  ctl::TableContent content;
  content.vips.push_back(test::make_vip("web", "10.0.0.100:443", 3));
  EXPECT_TRUE(writer->publish(content).ok());
  return path;
}

std::string attach_error(const std::string& path) {
  auto segment = TableSegment::attach(path, MappedFile::Access::kReadOnly);
  EXPECT_FALSE(segment.ok());
  return segment.ok() ? std::string() : segment.error().message;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream buffer;
  buffer << file.rdbuf();
  return buffer.str();
}

TEST(TableSegmentTest, MissingAndEmptyFiles) {
  test::TempDir dir;
  EXPECT_EQ(attach_error(dir.file("absent")), "cannot open " + dir.file("absent") + ": No such file or directory");
  write_file(dir.file("empty"), "");
  EXPECT_EQ(attach_error(dir.file("empty")), dir.file("empty") + " is empty");
}

TEST(TableSegmentTest, GarbageIsNotARegion) {
  test::TempDir dir;
  std::mt19937 random(7);
  std::string garbage(1 << 16, '\0');
  for (char& c : garbage) c = static_cast<char>(random());
  write_file(dir.file("garbage"), garbage);
  EXPECT_NE(attach_error(dir.file("garbage")).find("not an eclb table region (bad magic"), std::string::npos);
  write_file(dir.file("tiny"), "ECLB");
  EXPECT_EQ(attach_error(dir.file("tiny")),
            dir.file("tiny") + ": truncated table region: 4 bytes, header alone needs 128");
}

TEST(TableSegmentTest, TruncatedRegion) {
  test::TempDir dir;
  const std::string path = published_region(dir);
  const std::string bytes = read_file(path);
  write_file(dir.file("cut"), bytes.substr(0, bytes.size() / 2));
  EXPECT_EQ(attach_error(dir.file("cut")), fmt::format("{}: truncated table region: header says {} bytes, file has {}",
                                                       dir.file("cut"), bytes.size(), bytes.size() / 2));
}

TEST(TableSegmentTest, AnotherAbiMajorVersionIsRefused) {
  test::TempDir dir;
  std::string bytes = read_file(published_region(dir));
  abi::RegionHeader header;
  std::memcpy(&header, bytes.data(), sizeof header);
  header.abi_major = abi::kTableAbiMajor + 1;
  header.abi_minor = 3;
  header.checksum = region_header_checksum(header);
  std::memcpy(bytes.data(), &header, sizeof header);
  write_file(dir.file("v2"), bytes);
  EXPECT_EQ(attach_error(dir.file("v2")),
            fmt::format("{}: table region has ABI version {}.3, this build reads major version {}", dir.file("v2"),
                        abi::kTableAbiMajor + 1, abi::kTableAbiMajor));
}

TEST(TableSegmentTest, ACorruptHeaderIsRefused) {
  test::TempDir dir;
  std::string bytes = read_file(published_region(dir));
  bytes[offsetof(abi::RegionHeader, max_vips)] ^= 0x40;
  write_file(dir.file("bad"), bytes);
  EXPECT_EQ(attach_error(dir.file("bad")), dir.file("bad") + ": table region header checksum mismatch");
}

TEST(TableSegmentTest, ACorruptCopyFailsTheSnapshotChecksum) {
  test::TempDir dir;
  std::string bytes = read_file(published_region(dir));
  abi::RegionHeader header;
  std::memcpy(&header, bytes.data(), sizeof header);
  const uint64_t active = header.copy_offset[header.generation % abi::kTableCopies];
  abi::CopyHeader copy;
  std::memcpy(&copy, bytes.data() + active, sizeof copy);
  bytes[active + copy.slots_offset + 17] ^= 1;  // one bit of one slot
  write_file(dir.file("flipped"), bytes);
  auto segment = TableSegment::attach(dir.file("flipped"), MappedFile::Access::kReadOnly);
  ASSERT_TRUE(segment.ok());
  auto snapshot = segment->snapshot();
  ASSERT_FALSE(snapshot.ok());
  EXPECT_EQ(snapshot.error().message, dir.file("flipped") + ": generation 1: copy checksum mismatch");
}

TEST(TableSegmentTest, NothingPublishedYet) {
  test::TempDir dir;
  auto writer = ctl::TableWriter::open({dir.file("tables"), TableCapacity{4, 16, 4, 1024}});
  ASSERT_TRUE(writer.ok());
  auto segment = TableSegment::attach(dir.file("tables"), MappedFile::Access::kReadOnly);
  ASSERT_TRUE(segment.ok());
  auto snapshot = segment->snapshot();
  ASSERT_FALSE(snapshot.ok());
  EXPECT_EQ(snapshot.error().message, dir.file("tables") + ": no tables published yet");
}

// The layout other processes depend on, as text. A change here is an ABI change: bump
// kTableAbiMajor (or kTableAbiMinor for an append) and regenerate the fixture with
// ECLB_UPDATE_FIXTURES=1.
std::string layout_description() {
  std::string out = fmt::format("table region ABI {}.{}\n", abi::kTableAbiMajor, abi::kTableAbiMinor);
#define ECLB_FIELD(type, field) out += fmt::format("  {}.{} @{} size {}\n", #type, #field, offsetof(abi::type, field), sizeof(abi::type::field))
  out += fmt::format("RegionHeader size {} align {}\n", sizeof(abi::RegionHeader), alignof(abi::RegionHeader));
  ECLB_FIELD(RegionHeader, magic); ECLB_FIELD(RegionHeader, abi_major); ECLB_FIELD(RegionHeader, abi_minor);
  ECLB_FIELD(RegionHeader, header_bytes); ECLB_FIELD(RegionHeader, region_bytes); ECLB_FIELD(RegionHeader, generation);
  ECLB_FIELD(RegionHeader, checksum); ECLB_FIELD(RegionHeader, copy_count); ECLB_FIELD(RegionHeader, max_vips);
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
#undef ECLB_FIELD
  const auto layout = TableLayout::compute(TableCapacity{});
  out += fmt::format("default capacity: region {} bytes, copy {} bytes, slots at {}\n", layout->region_bytes,
                     layout->copy_bytes, layout->slots_offset);
  out += fmt::format("vip_key_hash(10.0.0.1, 443, tcp) = {:#018x}\n",
                     abi::vip_key_hash({10, 0, 0, 1}, 443, abi::L4Protocol::kTcp));
  return out;
}

TEST(TableSegmentTest, LayoutMatchesTheReviewedFixture) {
  const std::string fixture = ECLB_SOURCE_DIR "/tests/fixtures/abi/table_region.layout";
  const std::string actual = layout_description();
  if (std::getenv("ECLB_UPDATE_FIXTURES") != nullptr) {
    std::ofstream(fixture, std::ios::trunc) << actual;
  }
  EXPECT_EQ(read_file(fixture), actual) << "the table region layout changed: see the comment above";
}

}  // namespace
}  // namespace eclb
