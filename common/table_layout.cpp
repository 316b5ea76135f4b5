// Region layout arithmetic and header validation (see abi/table_region.h).
#include "common/table_layout.h"

#include "common/region_header.h"

#include <bit>
#include <cstring>

namespace eclb {
namespace {

constexpr uint64_t align_up(uint64_t value, uint64_t alignment) { return (value + alignment - 1) / alignment * alignment; }

}  // namespace

Result<TableLayout> TableLayout::compute(const TableCapacity& capacity) {
  if (capacity.max_vips == 0 || capacity.max_vips > kMaxVipsLimit) {
    return make_error("max_vips {} out of range 1-{}", capacity.max_vips, kMaxVipsLimit);
  }
  if (capacity.max_backends == 0 || capacity.max_backends > kMaxBackendsLimit) {
    return make_error("max_backends {} out of range 1-{}", capacity.max_backends, kMaxBackendsLimit);
  }
  if (capacity.max_readers == 0 || capacity.max_readers > kMaxReadersLimit) {
    return make_error("max_readers {} out of range 1-{}", capacity.max_readers, kMaxReadersLimit);
  }
  if (capacity.max_table_slots == 0 || capacity.max_table_slots > (kMaxRegionBytes / 2 / sizeof(abi::SlotValue))) {
    return make_error("max_table_slots {} out of range", capacity.max_table_slots);
  }
  TableLayout layout;
  layout.capacity = capacity;
  layout.vip_index_capacity = std::bit_ceil(2 * capacity.max_vips);
  layout.reader_offset = align_up(sizeof(abi::RegionHeader), 64);
  const uint64_t readers_end = layout.reader_offset + uint64_t{capacity.max_readers} * sizeof(abi::ReaderSlot);

  layout.vips_offset = sizeof(abi::CopyHeader);
  layout.backends_offset = align_up(layout.vips_offset + uint64_t{capacity.max_vips} * sizeof(abi::VipEntry), 64);
  layout.vip_index_offset =
      align_up(layout.backends_offset + uint64_t{capacity.max_backends} * sizeof(abi::BackendEntry), 64);
  layout.address_index_offset =
      align_up(layout.vip_index_offset + uint64_t{layout.vip_index_capacity} * sizeof(uint32_t), 64);
  layout.backend_by_id_offset =
      align_up(layout.address_index_offset + uint64_t{layout.vip_index_capacity} * sizeof(uint32_t), 64);
  layout.slots_offset = align_up(layout.backend_by_id_offset + uint64_t{capacity.max_backends} * sizeof(uint32_t), 64);
  layout.copy_bytes =
      align_up(layout.slots_offset + capacity.max_table_slots * sizeof(abi::SlotValue), abi::kCopyAlignment);

  uint64_t offset = align_up(readers_end, abi::kCopyAlignment);
  for (auto& copy_offset : layout.copy_offset) {
    copy_offset = offset;
    offset += layout.copy_bytes;
  }
  layout.region_bytes = offset;
  if (layout.region_bytes > kMaxRegionBytes) return make_error("table region of {} bytes is too large", offset);
  return layout;
}

Result<TableLayout> validate_region_header(const void* base, size_t mapped_bytes) {
  auto read = read_region_header<abi::RegionHeader>(base, mapped_bytes, "table", abi::kTableRegionMagic,
                                                    abi::kTableAbiMajor, abi::table_header_checksum);
  if (!read) return std::move(read).error();
  const abi::RegionHeader& header = *read;
  if (header.copy_count != abi::kTableCopies) {
    return make_error("table region has {} copies, expected {}", header.copy_count, abi::kTableCopies);
  }
  auto layout = TableLayout::compute(TableCapacity{header.max_vips, header.max_backends, header.max_readers,
                                                   header.max_table_slots});
  if (!layout) return std::move(layout).context("table region header");
  bool same = layout->region_bytes == header.prologue.region_bytes && layout->copy_bytes == header.copy_bytes &&
              layout->reader_offset == header.reader_offset &&
              layout->vip_index_capacity == header.vip_index_capacity;
  for (uint32_t i = 0; i < abi::kTableCopies; ++i) same = same && layout->copy_offset[i] == header.copy_offset[i];
  if (!same) return make_error("table region header describes an inconsistent layout");
  return layout;
}

}  // namespace eclb
