// TableReader: a registered reader of a table region — one per dataplane worker lcore.
// It owns a ReaderSlot; refresh() once per burst picks up a new generation and tells the
// writer (through seen_generation) that the previous copy is no longer in use. The writer
// waits for registered readers, up to its grace period, before reusing a copy.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"
#include "common/table_segment.h"
#include "common/table_view.h"

namespace eclb {

class TableReader {
 public:
  // Claims a free reader slot (or one left by a dead process) in a read-write attached
  // segment. Fails if every slot is taken. The segment must outlive the reader.
  static Result<TableReader> claim(TableSegment& segment, std::string_view role);

  TableReader(TableReader&& other) noexcept;
  TableReader& operator=(TableReader&&) = delete;
  TableReader(const TableReader&) = delete;
  ~TableReader();  // frees the slot

  // Owner thread only, between bursts. One acquire load when nothing changed; returns
  // true when the view now shows a new generation. After it returns, views obtained
  // before the call must not be used any more.
  bool refresh() noexcept {
    const uint64_t generation = __atomic_load_n(&header_->prologue.generation, __ATOMIC_ACQUIRE);
    if (generation == generation_) [[likely]] return false;
    adopt(generation);
    return true;
  }

  const TableView& view() const noexcept { return view_; }
  uint64_t generation() const noexcept { return generation_; }
  uint32_t slot_index() const noexcept { return slot_index_; }

 private:
  TableReader() = default;
  void adopt(uint64_t generation) noexcept;

  TableSegment* segment_ = nullptr;
  const abi::RegionHeader* header_ = nullptr;
  abi::ReaderSlot* slot_ = nullptr;
  uint32_t slot_index_ = 0;
  uint64_t generation_ = 0;
  TableView view_;
};

// True if process `pid` no longer runs (gone, or a zombie not reaped yet). Used for
// reader slots and region ownership.
bool reader_process_gone(uint32_t pid) noexcept;

}  // namespace eclb
