// Creation and adoption of the stats and flow regions.
#include "dataplane/runtime/shared_regions.h"

#include <sys/statfs.h>
#include <unistd.h>

#include <bit>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>

#include "common/shared_atomic.h"
#include "common/table_reader.h"

namespace eclb::dp {
namespace {

constexpr uint64_t kHugetlbfsMagic = 0x958458f6;

uint64_t unix_now_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

uint64_t align_up(uint64_t value, uint64_t alignment) { return (value + alignment - 1) / alignment * alignment; }

// Page size of the filesystem holding `path` (2 MiB on hugetlbfs): file sizes must be
// multiples of it there.
uint64_t file_page_size(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  const std::string directory = parent.empty() ? std::string(".") : parent.string();
  struct statfs fs {};
  if (statfs(directory.c_str(), &fs) == 0 && static_cast<uint64_t>(fs.f_type) == kHugetlbfsMagic) {
    return static_cast<uint64_t>(fs.f_bsize);
  }
  return 4096;
}

}  // namespace

Result<StatsRegion> StatsRegion::create(const std::string& path, uint32_t lcores, uint32_t max_vips,
                                        uint32_t max_backends, uint32_t ports) {
  const uint64_t lcore_bytes = abi::stats_lcore_bytes(max_vips, max_backends);
  const uint64_t offset = 4096;
  const uint64_t slow_path_offset = align_up(offset + lcores * lcore_bytes, 64);
  const uint64_t port_offset = slow_path_offset + sizeof(abi::SlowPathStats);
  const uint64_t bytes = align_up(port_offset + uint64_t{ports} * sizeof(abi::PortStats), file_page_size(path));
  std::remove(path.c_str());  // a reader of the previous run keeps its own (unlinked) copy
  auto file = MappedFile::create(path, bytes);
  if (!file) return std::move(file).context("stats region");
  abi::StatsHeader header{};
  header.prologue = abi::make_prologue(abi::kStatsRegionMagic, abi::kStatsAbiMajor, abi::kStatsAbiMinor,
                                       sizeof header, bytes);
  header.lcore_count = lcores;
  header.max_vips = max_vips;
  header.max_backends = max_backends;
  header.drop_slots = abi::kDropReasonSlots;
  header.lcore_offset = offset;
  header.lcore_bytes = lcore_bytes;
  header.slow_path_offset = slow_path_offset;
  header.port_offset = port_offset;
  header.port_count = ports;
  header.port_bytes = sizeof(abi::PortStats);
  header.prologue.checksum = abi::stats_header_checksum(header);
  header.prologue.generation = unix_now_ns();
  header.dataplane_pid = static_cast<uint64_t>(getpid());
  header.heartbeat_unix_ns = header.prologue.generation;
  std::memcpy(file->data(), &header, sizeof header);
  StatsRegion region;
  region.file_ = std::move(*file);
  return region;
}

WorkerCounters StatsRegion::counters_for(uint32_t lcore) const noexcept {
  const abi::StatsHeader& h = header();
  std::byte* block = file_.data() + h.lcore_offset + lcore * h.lcore_bytes;
  WorkerCounters counters;
  counters.lcore = reinterpret_cast<abi::LcoreStats*>(block);
  counters.vips = reinterpret_cast<abi::VipStats*>(block + sizeof(abi::LcoreStats));
  counters.backends =
      reinterpret_cast<abi::BackendStats*>(block + sizeof(abi::LcoreStats) + h.max_vips * sizeof(abi::VipStats));
  counters.max_vips = h.max_vips;
  counters.max_backends = h.max_backends;
  return counters;
}

abi::SlowPathStats& StatsRegion::slow_path() const noexcept {
  return *reinterpret_cast<abi::SlowPathStats*>(file_.data() + header().slow_path_offset);
}

abi::PortStats& StatsRegion::port(uint32_t index) const noexcept {
  return *reinterpret_cast<abi::PortStats*>(file_.data() + header().port_offset + index * sizeof(abi::PortStats));
}

void StatsRegion::heartbeat() noexcept { store_relaxed(&header().heartbeat_unix_ns, unix_now_ns()); }

uint32_t flow_bucket_count(uint32_t entries) noexcept {
  return std::bit_ceil(std::max<uint32_t>(8, (entries + abi::kFlowWays - 1) / abi::kFlowWays));
}

Result<FlowRegion> FlowRegion::open(const std::string& path, uint32_t workers, uint32_t entries_per_worker) {
  const uint32_t buckets = flow_bucket_count(entries_per_worker);
  const uint64_t worker_bytes = align_up(abi::flow_worker_bytes(buckets), 4096);
  const uint64_t neighbour_offset = 4096;
  const uint64_t offset = align_up(neighbour_offset + kNeighbourCacheEntries * sizeof(abi::FlowNeighbour), 4096);
  const uint64_t bytes = align_up(offset + workers * worker_bytes, file_page_size(path));
  const auto pid = static_cast<uint64_t>(getpid());

  FlowRegion region;
  // A previous run that is still shutting down (an upgrade) gets a few seconds to let go.
  for (int waited = 0; waited < 50; ++waited) {
    auto existing = MappedFile::open(path, MappedFile::Access::kReadWrite);
    if (!existing || existing->size() < sizeof(abi::FlowRegionHeader)) break;
    const auto* live = reinterpret_cast<const abi::FlowRegionHeader*>(existing->data());
    const uint64_t owner = load_relaxed(&live->owner_pid);
    if (owner == 0 || owner == pid || reader_process_gone(static_cast<uint32_t>(owner))) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (auto existing = MappedFile::open(path, MappedFile::Access::kReadWrite); existing) {
    abi::FlowRegionHeader header;
    if (existing->size() >= sizeof header) {
      std::memcpy(&header, existing->data(), sizeof header);
      const bool valid = abi::check_prologue(header.prologue, abi::kFlowRegionMagic, abi::kFlowAbiMajor, sizeof header,
                                             abi::flow_header_checksum(header), existing->size()) == abi::PrologueCheck::kOk;
      if (valid && header.owner_pid != 0 && !reader_process_gone(static_cast<uint32_t>(header.owner_pid)) &&
          header.owner_pid != pid) {
        return make_error("flow region {} is in use by eclb-dataplane pid {}", path, header.owner_pid);
      }
      if (valid && header.worker_count == workers && header.bucket_count == buckets &&
          header.worker_bytes == worker_bytes) {
        auto* live = reinterpret_cast<abi::FlowRegionHeader*>(existing->data());
        store_relaxed(&live->owner_pid, pid);
        store_relaxed(&live->prologue.generation, live->prologue.generation + 1);
        region.file_ = std::move(*existing);
        region.adopted_ = true;
        return region;
      }
    }
  }
  std::remove(path.c_str());
  auto file = MappedFile::create(path, bytes);
  if (!file) return std::move(file).context("flow region (hugepages reserved and free?)");
  abi::FlowRegionHeader header{};
  header.prologue = abi::make_prologue(abi::kFlowRegionMagic, abi::kFlowAbiMajor, abi::kFlowAbiMinor, sizeof header,
                                       bytes);
  header.worker_count = workers;
  header.bucket_count = buckets;
  header.worker_offset = offset;
  header.worker_bytes = worker_bytes;
  header.created_unix_ns = unix_now_ns();
  header.neighbour_offset = neighbour_offset;
  header.neighbour_capacity = kNeighbourCacheEntries;
  header.prologue.checksum = abi::flow_header_checksum(header);
  header.prologue.generation = 1;
  header.owner_pid = pid;
  std::memcpy(file->data(), &header, sizeof header);
  region.file_ = std::move(*file);
  return region;
}

FlowTable FlowRegion::table_for(uint32_t worker, bool nat, const FlowTimeouts& timeouts,
                                const FlowGuardConfig& guard) const noexcept {
  const abi::FlowRegionHeader& h = header();
  std::byte* block = file_.data() + h.worker_offset + worker * h.worker_bytes;
  auto* worker_header = reinterpret_cast<abi::FlowWorkerHeader*>(block);
  std::byte* table = block + sizeof(abi::FlowWorkerHeader) + (nat ? abi::flow_table_bytes(h.bucket_count) : 0);
  auto* buckets = reinterpret_cast<abi::FlowBucket*>(table);
  auto* entries = reinterpret_cast<abi::FlowEntry*>(table + uint64_t{h.bucket_count} * sizeof(abi::FlowBucket));
  return FlowTable(nat ? &worker_header->nat_entries : &worker_header->entries, buckets, entries, h.bucket_count,
                   timeouts, guard);
}

uint64_t FlowRegion::entries() const noexcept {
  const abi::FlowRegionHeader& h = header();
  uint64_t total = 0;
  for (uint32_t w = 0; w < h.worker_count; ++w) {
    total += load_relaxed(&reinterpret_cast<const abi::FlowWorkerHeader*>(file_.data() + h.worker_offset +
                                                                          w * h.worker_bytes)->entries);
  }
  return total;
}

std::span<abi::FlowNeighbour> FlowRegion::neighbours() const noexcept {
  const abi::FlowRegionHeader& h = header();
  if (h.prologue.abi_minor < 2 || h.neighbour_capacity == 0 || h.neighbour_offset < sizeof h ||
      h.neighbour_offset + uint64_t{h.neighbour_capacity} * sizeof(abi::FlowNeighbour) > h.worker_offset) {
    return {};  // a region made by an older run: no cache
  }
  return {reinterpret_cast<abi::FlowNeighbour*>(file_.data() + h.neighbour_offset), h.neighbour_capacity};
}

void FlowRegion::release() noexcept {
  store_relaxed(&reinterpret_cast<abi::FlowRegionHeader*>(file_.data())->owner_pid, uint64_t{0});
}

}  // namespace eclb::dp
