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
  header.prologue.abi_major = abi::kTableAbiMajor + 1;
  header.prologue.abi_minor = 3;
  header.prologue.checksum = abi::table_header_checksum(header);
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
  const uint64_t active = header.copy_offset[header.prologue.generation % abi::kTableCopies];
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

}  // namespace
}  // namespace eclb
