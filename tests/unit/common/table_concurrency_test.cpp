// Concurrent publication and reading of the table region: one writer flipping
// generations as fast as it can while registered readers (threads, and processes) and
// snapshot readers (processes) check every generation they see against its expected
// content and checksum, including after holding it for a while. Also built and run
// under ThreadSanitizer (table_concurrency_tsan_test).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "common/table_reader.h"
#include "common/table_segment.h"
#include "control/publish/table_writer.h"
#include "tests/unit/support/temp_dir.h"

namespace eclb {
namespace {

constexpr int kVips = 3;
constexpr int kMembers = 7;
constexpr uint32_t kTableSize = 1009;

uint32_t expected_slot(uint64_t generation, int vip, uint32_t slot) {
  uint64_t h = generation * 0x9E3779B97F4A7C15ULL ^ (static_cast<uint64_t>(vip) << 32 | slot);
  h ^= h >> 31;
  h *= 0xBF58476D1CE4E5B9ULL;
  h ^= h >> 29;
  return static_cast<uint32_t>(h % kMembers);
}

ctl::TableContent content_for(uint64_t generation) {
  ctl::TableContent content;
  for (int v = 0; v < kVips; ++v) {
    ctl::VipContent vip;
    vip.name = "v" + std::to_string(v);
    vip.endpoint = *Endpoint::parse(fmt::format("10.0.0.{}:80", v + 1));
    vip.table_size = kTableSize;
    for (int m = 0; m < kMembers; ++m) {
      vip.members.push_back({fmt::format("m{}", m), *Endpoint::parse(fmt::format("10.1.{}.{}:8080", v, m + 1)), 1,
                             abi::BackendState::kUp});
    }
    for (uint32_t s = 0; s < kTableSize; ++s) vip.slots.push_back(expected_slot(generation, v, s));
    content.vips.push_back(std::move(vip));
  }
  return content;
}

// True if `view` holds exactly generation `generation`'s content with a valid checksum.
bool content_matches(const TableView& view, uint64_t generation) {
  const abi::CopyHeader& header = view.header();
  if (__atomic_load_n(&header.generation, __ATOMIC_ACQUIRE) != generation) return false;
  if (header.checksum != copy_checksum(view.base(), header.used_bytes)) return false;
  if (view.vips().size() != kVips) return false;
  for (int v = 0; v < kVips; ++v) {
    const auto slots = view.slots_of(view.vips()[v]);
    for (uint32_t s = 0; s < kTableSize; ++s) {
      if (slots[s] != expected_slot(generation, v, s)) return false;
    }
  }
  return true;
}

struct ReaderTally {
  uint64_t generations_seen = 0;
  uint64_t checks = 0;
  uint64_t torn = 0;
};

// Registered reader loop (a stand-in dataplane worker): refresh, verify, hold, re-verify.
ReaderTally run_registered_reader(TableSegment& segment, std::chrono::steady_clock::time_point until,
                                  const std::atomic<bool>* stop) {
  ReaderTally tally;
  auto reader = TableReader::claim(segment, "stress");
  if (!reader) {
    ++tally.torn;
    return tally;
  }
  while (std::chrono::steady_clock::now() < until && !(stop && stop->load(std::memory_order_relaxed))) {
    if (reader->refresh()) ++tally.generations_seen;
    if (reader->generation() == 0) continue;
    ++tally.checks;
    if (!content_matches(reader->view(), reader->generation())) ++tally.torn;
    std::this_thread::yield();  // hold the copy across a writer time slice
    if (!content_matches(reader->view(), reader->generation())) ++tally.torn;
  }
  return tally;
}

void publish_until(ctl::TableWriter& writer, const std::function<bool()>& done, uint64_t& published) {
  while (!done()) {
    auto report = writer.publish(content_for(writer.generation() + 1));
    ASSERT_TRUE(report.ok()) << report.error().message;
    ASSERT_EQ(report->readers_evicted, 0u);
    ++published;
  }
}

TEST(TableConcurrencyTest, ThreadsNeverSeeATornGeneration) {
  test::TempDir dir;
  auto writer = ctl::TableWriter::open({dir.file("tables"), TableCapacity{8, 64, 8, 8192}, std::chrono::seconds(30)});
  ASSERT_TRUE(writer.ok());
  auto segment = TableSegment::attach(dir.file("tables"), MappedFile::Access::kReadWrite);
  ASSERT_TRUE(segment.ok());

  constexpr int kReaders = 3;
  std::atomic<bool> stop{false};
  std::vector<ReaderTally> tallies(kReaders);
  std::vector<std::thread> readers;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (int i = 0; i < kReaders; ++i) {
    readers.emplace_back([&, i] { tallies[i] = run_registered_reader(*segment, until, &stop); });
  }
  uint64_t published = 0;
  const uint64_t target = 400;
  publish_until(*writer, [&] { return published >= target; }, published);
  stop = true;
  for (auto& thread : readers) thread.join();
  for (const ReaderTally& tally : tallies) {
    EXPECT_EQ(tally.torn, 0u);
    EXPECT_GT(tally.generations_seen, 10u);
    EXPECT_GT(tally.checks, 10u);
  }
  EXPECT_EQ(writer->generation(), target);
}

// Child process bodies return an exit status: 0 ok, 1 torn read, 2 setup error, 3 saw
// too few generations.
int registered_reader_process(const std::string& path, std::chrono::milliseconds duration) {
  auto segment = TableSegment::attach(path, MappedFile::Access::kReadWrite);
  if (!segment) return 2;
  const ReaderTally tally = run_registered_reader(*segment, std::chrono::steady_clock::now() + duration, nullptr);
  if (tally.torn != 0) return 1;
  return tally.generations_seen >= 5 ? 0 : 3;
}

int snapshot_reader_process(const std::string& path, std::chrono::milliseconds duration) {
  auto segment = TableSegment::attach(path, MappedFile::Access::kReadOnly);
  if (!segment) return 2;
  uint64_t distinct = 0, last = 0;
  const auto until = std::chrono::steady_clock::now() + duration;
  while (segment->generation() == 0 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  while (std::chrono::steady_clock::now() < until) {
    auto snapshot = segment->snapshot();
    if (!snapshot) {
      std::fprintf(stderr, "snapshot reader: %s\n", snapshot.error().message.c_str());
      return 1;  // a checksum or structure failure: torn
    }
    if (!content_matches(snapshot->view, snapshot->generation)) {
      std::fprintf(stderr, "snapshot reader: generation %lu content mismatch\n",
                   static_cast<unsigned long>(snapshot->generation));
      return 1;
    }
    if (snapshot->generation != last) ++distinct;
    last = snapshot->generation;
  }
  return distinct >= 5 ? 0 : 3;
}

TEST(TableConcurrencyTest, ProcessesNeverSeeATornGeneration) {
  test::TempDir dir;
  const std::string path = dir.file("tables");
  auto writer = ctl::TableWriter::open({path, TableCapacity{8, 64, 8, 8192}, std::chrono::seconds(30)});
  ASSERT_TRUE(writer.ok());
  const auto duration = std::chrono::milliseconds(1500);
  std::vector<pid_t> children;
  for (int i = 0; i < 4; ++i) {
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) _exit(i % 2 == 0 ? registered_reader_process(path, duration) : snapshot_reader_process(path, duration));
    children.push_back(child);
  }
  uint64_t published = 0;
  const auto until = std::chrono::steady_clock::now() + duration + std::chrono::milliseconds(200);
  publish_until(*writer, [&] { return std::chrono::steady_clock::now() >= until; }, published);
  for (size_t i = 0; i < children.size(); ++i) {
    int status = 0;
    ASSERT_EQ(waitpid(children[i], &status, 0), children[i]);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << (i % 2 == 0 ? "registered" : "snapshot") << " reader " << i;
  }
  EXPECT_GT(published, 20u);
  std::printf("published %lu generations in %.1f s with 2 registered and 2 snapshot reader processes\n",
              static_cast<unsigned long>(published), (duration.count() + 200) / 1000.0);
}

}  // namespace
}  // namespace eclb
