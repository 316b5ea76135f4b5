// TableSegment: an attached, validated table region (see abi/table_region.h),
// and TableSnapshot: a consistent private copy of its current generation. eclbctl reads
// through snapshots (read-only mapping, no effect on the writer); eclb-dataplane attaches
// read-write so its workers can register as readers (table_reader.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/mapped_file.h"
#include "common/result.h"
#include "common/table_layout.h"
#include "common/table_view.h"

namespace eclb {

struct TableSnapshot {
  uint64_t generation = 0;
  uint64_t publish_unix_ns = 0;
  uint64_t writer_pid = 0;
  std::unique_ptr<uint64_t[]> storage;  // 8-byte aligned copy of the copy's used bytes
  TableView view;
};

class TableSegment {
 public:
  // Maps path and validates its header: a missing file, a truncated file, garbage or
  // another ABI major version give one clear error and no mapping.
  static Result<TableSegment> attach(const std::string& path, MappedFile::Access access);

  const TableLayout& layout() const noexcept { return layout_; }
  const abi::RegionHeader& header() const noexcept { return *reinterpret_cast<const abi::RegionHeader*>(file_.data()); }
  abi::RegionHeader& mutable_header() noexcept { return *reinterpret_cast<abi::RegionHeader*>(file_.data()); }
  std::byte* base() const noexcept { return file_.data(); }
  const std::string& path() const noexcept { return file_.path(); }

  uint64_t generation() const noexcept;  // acquire
  bool retired() const noexcept;         // a writer has replaced this file; re-attach
  // View of copy `index` in place. Only safe for a registered reader or the writer.
  TableView copy_view(uint32_t index) const noexcept;

  // A consistent copy of the current generation, validated (checksum included). Retries
  // while the writer rewrites the copy being read; fails if nothing is published yet, or
  // if the copy is corrupt.
  Result<TableSnapshot> snapshot() const;

 private:
  MappedFile file_;
  TableLayout layout_;
};

// The bounds part of validate_copy: counts within capacities and every index a reader
// follows (VIP and address index entries, member ranges, slot ranges, ids) in range.
// O(VIPs + members + index), noexcept and allocation-free: a dataplane worker runs it on
// every new generation before forwarding with it (slot values are range-checked per
// packet instead of scanned here).
bool copy_bounds_ok(const TableView& view, const TableLayout& layout) noexcept;

// Structural validation of one copy: counts within capacities, every index and offset in
// range, names terminated, slots pointing at up members, and the checksum. O(size of copy).
Result<void> validate_copy(const TableView& view, const TableLayout& layout);

// Checksum of a copy as the writer computes it: XXH3-64 of [kCopyChecksumStart, used_bytes).
uint64_t copy_checksum(const std::byte* copy_base, uint64_t used_bytes) noexcept;

}  // namespace eclb
