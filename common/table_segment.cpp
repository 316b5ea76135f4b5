// Attaching to a table region, validating copies, and the seqlock-style snapshot read.
#include "common/table_segment.h"

#include <xxhash.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "common/shared_atomic.h"

namespace eclb {
namespace {

bool terminated(const char* text, size_t bytes) { return std::memchr(text, 0, bytes) != nullptr; }

bool valid_family(abi::AddressFamily family) {
  return family == abi::AddressFamily::kIpv4 || family == abi::AddressFamily::kIpv6;
}

}  // namespace

Result<TableSegment> TableSegment::attach(const std::string& path, MappedFile::Access access) {
  auto file = MappedFile::open(path, access);
  if (!file) return std::move(file).error();
  auto layout = validate_region_header(file->data(), file->size());
  if (!layout) return std::move(layout).context(path);
  TableSegment segment;
  segment.file_ = std::move(*file);
  segment.layout_ = *layout;
  return segment;
}

uint64_t TableSegment::generation() const noexcept { return load_acquire(&header().prologue.generation); }

bool TableSegment::retired() const noexcept { return load_relaxed(&header().retired) != 0; }

TableView TableSegment::copy_view(uint32_t index) const noexcept {
  return TableView(file_.data() + layout_.copy_offset[index % abi::kTableCopies], layout_.vip_index_capacity,
                   layout_.capacity.max_backends);
}

Result<TableSnapshot> TableSegment::snapshot() const {
  constexpr int kAttempts = 200;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::microseconds(100 * attempt));
    const uint64_t generation = this->generation();
    if (generation == 0) return make_error("{}: no tables published yet", path());
    const std::byte* copy = file_.data() + layout_.copy_offset[generation % abi::kTableCopies];
    const auto* copy_header = reinterpret_cast<const abi::CopyHeader*>(copy);
    if (load_acquire(&copy_header->generation) != generation) continue;  // being rewritten
    const uint64_t used = load_relaxed(&copy_header->used_bytes);
    if (used < sizeof(abi::CopyHeader) || used > layout_.copy_bytes) continue;  // torn; re-check below
    TableSnapshot snapshot;
    snapshot.generation = generation;
    snapshot.publish_unix_ns = load_relaxed(&header().publish_unix_ns);
    snapshot.writer_pid = load_relaxed(&header().writer_pid);
    snapshot.storage = std::make_unique<uint64_t[]>((used + 7) / 8);
    std::memcpy(snapshot.storage.get(), copy, used);
    // Pairs with the writer's release store of copy.generation = 0 before it rewrites:
    // if the stamp is unchanged after the copy, no byte we copied was being rewritten.
    std::atomic_thread_fence(std::memory_order_acquire);
    if (load_relaxed(&copy_header->generation) != generation) continue;
    snapshot.view = TableView(reinterpret_cast<const std::byte*>(snapshot.storage.get()), layout_.vip_index_capacity,
                              layout_.capacity.max_backends);
    auto valid = validate_copy(snapshot.view, layout_);
    if (!valid) return std::move(valid).context(fmt::format("{}: generation {}", path(), generation));
    return snapshot;
  }
  return make_error("{}: could not read a stable copy after {} attempts (writer publishing continuously?)", path(),
                    kAttempts);
}

uint64_t copy_checksum(const std::byte* copy_base, uint64_t used_bytes) noexcept {
  if (used_bytes <= abi::kCopyChecksumStart) return 0;
  return XXH3_64bits(copy_base + abi::kCopyChecksumStart, used_bytes - abi::kCopyChecksumStart);
}

bool copy_bounds_ok(const TableView& view, const TableLayout& layout) noexcept {
  const abi::CopyHeader& header = view.header();
  if (header.vips_offset != layout.vips_offset || header.backends_offset != layout.backends_offset ||
      header.vip_index_offset != layout.vip_index_offset || header.address_index_offset != layout.address_index_offset ||
      header.backend_by_id_offset != layout.backend_by_id_offset || header.slots_offset != layout.slots_offset ||
      header.vip_count > layout.capacity.max_vips || header.backend_count > layout.capacity.max_backends ||
      header.slot_count > layout.capacity.max_table_slots) {
    return false;
  }
  for (const abi::VipEntry& vip : view.vips()) {
    if (vip.table_size == 0 || vip.slots_first + vip.table_size > header.slot_count ||
        uint64_t{vip.backend_first} + vip.backend_count > header.backend_count) {
      return false;
    }
  }
  for (const abi::BackendEntry& backend : view.backends()) {
    if (backend.vip_position >= header.vip_count) return false;
  }
  for (const uint32_t value : view.vip_index()) {
    if (value > header.vip_count) return false;
  }
  for (const uint32_t value : view.address_index()) {
    if (value > header.vip_count) return false;
  }
  return true;
}

Result<void> validate_copy(const TableView& view, const TableLayout& layout) {
  const abi::CopyHeader& header = view.header();
  if (header.vips_offset != layout.vips_offset || header.backends_offset != layout.backends_offset ||
      header.vip_index_offset != layout.vip_index_offset || header.address_index_offset != layout.address_index_offset ||
      header.backend_by_id_offset != layout.backend_by_id_offset || header.slots_offset != layout.slots_offset) {
    return make_error("copy offsets do not match the region layout");
  }
  if (header.vip_count > layout.capacity.max_vips) return make_error("vip_count {} over capacity", header.vip_count);
  if (header.backend_count > layout.capacity.max_backends) {
    return make_error("backend_count {} over capacity", header.backend_count);
  }
  if (header.slot_count > layout.capacity.max_table_slots) {
    return make_error("slot_count {} over capacity", header.slot_count);
  }
  if (header.used_bytes != layout.slots_offset + header.slot_count * sizeof(abi::SlotValue)) {
    return make_error("used_bytes {} inconsistent with slot_count {}", header.used_bytes, header.slot_count);
  }
  if (header.checksum != copy_checksum(view.base(), header.used_bytes)) return make_error("copy checksum mismatch");

  const auto vips = view.vips();
  const auto backends = view.backends();
  for (size_t v = 0; v < vips.size(); ++v) {
    const abi::VipEntry& vip = vips[v];
    if (!valid_family(vip.family)) return make_error("vip {}: bad address family", v);
    if (vip.protocol != abi::L4Protocol::kTcp && vip.protocol != abi::L4Protocol::kUdp) {
      return make_error("vip {}: bad protocol", v);
    }
    if (vip.mode != abi::ForwardMode::kDsrIpip && vip.mode != abi::ForwardMode::kDsrGue &&
        vip.mode != abi::ForwardMode::kFullNat && vip.mode != abi::ForwardMode::kL7Proxy) {
      return make_error("vip {}: bad forwarding mode", v);
    }
    if (!terminated(vip.name, sizeof vip.name)) return make_error("vip {}: name not terminated", v);
    if (vip.table_size == 0 || vip.table_size > abi::kMaxTableSize) {
      return make_error("vip {}: table_size {} out of range", v, vip.table_size);
    }
    if (uint64_t{vip.backend_first} + vip.backend_count > backends.size()) {
      return make_error("vip {}: backend range out of bounds", v);
    }
    if (vip.slots_first + vip.table_size > header.slot_count) return make_error("vip {}: slot range out of bounds", v);
    uint32_t up = 0;
    for (const abi::BackendEntry& backend : view.backends_of(vip)) up += backend.state == abi::BackendState::kUp;
    if (up != vip.up_count) return make_error("vip {}: up_count {} but {} members are up", v, vip.up_count, up);
    const auto members = view.backends_of(vip);
    for (const abi::SlotValue slot : view.slots_of(vip)) {
      if (slot == abi::kNoBackend) continue;
      if (slot >= vip.backend_count) return make_error("vip {}: slot value {} out of range", v, slot);
      if (members[slot].state != abi::BackendState::kUp) {
        return make_error("vip {}: slot points at member {} which is not up", v, slot);
      }
    }
  }
  const auto by_id = view.backend_by_id();
  for (size_t b = 0; b < backends.size(); ++b) {
    const abi::BackendEntry& backend = backends[b];
    if (!valid_family(backend.family)) return make_error("backend {}: bad address family", b);
    if (backend.state != abi::BackendState::kUp && backend.state != abi::BackendState::kDown &&
        backend.state != abi::BackendState::kDrained) {
      return make_error("backend {}: bad state", b);
    }
    if (!terminated(backend.name, sizeof backend.name)) return make_error("backend {}: name not terminated", b);
    if (backend.vip_position >= vips.size()) return make_error("backend {}: vip_position out of range", b);
    if (backend.id >= layout.capacity.max_backends || by_id[backend.id] != b) {
      return make_error("backend {}: id {} not indexed", b, backend.id);
    }
  }
  for (const uint32_t value : view.vip_index()) {
    if (value > vips.size()) return make_error("vip index entry {} out of range", value);
  }
  for (const uint32_t value : view.address_index()) {
    if (value > vips.size()) return make_error("address index entry {} out of range", value);
  }
  return success();
}

}  // namespace eclb
