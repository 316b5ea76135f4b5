// TableLayout: where everything sits in a table region of given capacities. The writer
// uses it to size and lay out a new region; readers use it to check that a region's
// header describes a sane layout before trusting any offset in it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/result.h"
#include "abi/table_region.h"

namespace eclb {

struct TableCapacity {
  uint32_t max_vips = 256;
  uint32_t max_backends = 16384;
  uint32_t max_readers = 64;
  uint64_t max_table_slots = 8u << 20;  // 8 Mi slots = 32 MiB per copy, touched lazily

  auto operator<=>(const TableCapacity&) const = default;
};

struct TableLayout {
  TableCapacity capacity;
  uint32_t vip_index_capacity = 0;
  uint64_t reader_offset = 0;
  uint64_t copy_offset[abi::kTableCopies] = {};
  uint64_t copy_bytes = 0;
  uint64_t region_bytes = 0;
  // Offsets inside each copy.
  uint64_t vips_offset = 0;
  uint64_t backends_offset = 0;
  uint64_t vip_index_offset = 0;
  uint64_t address_index_offset = 0;
  uint64_t backend_by_id_offset = 0;
  uint64_t slots_offset = 0;

  // Fails if a capacity is zero or the region would exceed kMaxRegionBytes.
  static Result<TableLayout> compute(const TableCapacity& capacity);
};

inline constexpr uint64_t kMaxRegionBytes = 64ull << 30;
inline constexpr uint32_t kMaxVipsLimit = 1u << 16;
inline constexpr uint32_t kMaxBackendsLimit = 1u << 22;
inline constexpr uint32_t kMaxReadersLimit = 1024;

// Checks the prologue (magic, ABI major, header checksum, size) and that every offset and size in the header
// fits in mapped_bytes and matches TableLayout::compute of its capacities. Never touches
// memory beyond mapped_bytes.
Result<TableLayout> validate_region_header(const void* base, size_t mapped_bytes);

}  // namespace eclb
