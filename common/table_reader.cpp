// Reader slot claim/release and generation adoption (protocol in table_region.h).
#include "common/table_reader.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cstring>
#include <utility>

#include "common/shared_atomic.h"

namespace eclb {

bool reader_process_gone(uint32_t pid) noexcept {
  if (pid == 0) return false;
  if (kill(static_cast<pid_t>(pid), 0) != 0) return errno == ESRCH;
  // A killed process stays visible as a zombie until its parent reaps it: count it gone.
  char path[32];
  std::snprintf(path, sizeof path, "/proc/%u/stat", pid);
  FILE* file = std::fopen(path, "r");
  if (file == nullptr) return true;
  char state = 0;
  const int fields = std::fscanf(file, "%*d (%*[^)]) %c", &state);
  std::fclose(file);
  return fields == 1 && (state == 'Z' || state == 'X');
}

Result<TableReader> TableReader::claim(TableSegment& segment, std::string_view role) {
  auto* slots = reinterpret_cast<abi::ReaderSlot*>(segment.base() + segment.layout().reader_offset);
  const auto pid = static_cast<uint32_t>(getpid());
  for (uint32_t i = 0; i < segment.layout().capacity.max_readers; ++i) {
    abi::ReaderSlot& slot = slots[i];
    uint32_t owner = load_acquire(&slot.pid);
    if (owner != 0 && !reader_process_gone(owner)) continue;
    if (!compare_exchange(&slot.pid, owner, pid)) continue;
    // The slot is ours but still inactive, so the writer ignores it; record the current
    // generation before activating so the writer never waits on a stale value of a
    // previous owner. We read no copy until refresh().
    std::memset(slot.role, 0, sizeof slot.role);
    std::memcpy(slot.role, role.data(), std::min(role.size(), sizeof slot.role - 1));
    slot.attach_unix_ns = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    store_release(&slot.seen_generation, segment.generation());
    store_release(&slot.state, static_cast<uint32_t>(abi::ReaderState::kActive));
    TableReader reader;
    reader.segment_ = &segment;
    reader.header_ = &segment.header();
    reader.slot_ = &slot;
    reader.slot_index_ = i;
    return reader;
  }
  return make_error("{}: all {} reader slots are in use", segment.path(), segment.layout().capacity.max_readers);
}

TableReader::TableReader(TableReader&& other) noexcept
    : segment_(other.segment_),
      header_(other.header_),
      slot_(std::exchange(other.slot_, nullptr)),
      slot_index_(other.slot_index_),
      generation_(other.generation_),
      view_(other.view_) {}

TableReader::~TableReader() {
  if (slot_ == nullptr) return;
  // Inactive first so the writer stops waiting on us, then release ownership.
  store_release(&slot_->state, static_cast<uint32_t>(abi::ReaderState::kFree));
  store_release(&slot_->pid, 0u);
}

void TableReader::adopt(uint64_t generation) noexcept {
  // An evicted slot is ignored by the writer; become visible again before using the copy.
  if (load_relaxed(&slot_->state) != static_cast<uint32_t>(abi::ReaderState::kActive)) {
    store_release(&slot_->state, static_cast<uint32_t>(abi::ReaderState::kActive));
  }
  // Release: every read of the previous copy happens before the writer can see this
  // store and reuse that copy (it pairs with the writer's acquire load of seen_generation).
  store_release(&slot_->seen_generation, generation);
  generation_ = generation;
  view_ = generation == 0 ? TableView() : segment_->copy_view(static_cast<uint32_t>(generation % abi::kTableCopies));
}

}  // namespace eclb
