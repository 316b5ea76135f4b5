// TableWriter: the single writer of a table region (eclb-control). It lays TableContent
// out in the inactive copy and publishes it by flipping the generation (protocol in
// abi/table_region.h). Stable ids: a VIP keeps its id and a member keeps its
// (id, incarnation) across publications and writer restarts, so dataplane flow entries
// and counters stay attached to the same backend.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include "common/result.h"
#include "common/table_layout.h"
#include "common/table_segment.h"
#include "control/core/table_content.h"

namespace eclb::ctl {

struct PublishReport {
  uint64_t generation = 0;
  std::chrono::microseconds waited{0};  // waiting for readers to leave the copy
  uint32_t readers_reaped = 0;          // slots of dead processes freed
  uint32_t readers_evicted = 0;         // live readers that overran the grace period
  uint64_t used_bytes = 0;
};

class TableWriter {
 public:
  struct Options {
    std::string path;
    TableCapacity capacity;
    std::chrono::milliseconds grace{1000};  // longest wait for a reader before eviction
  };

  // Takes the writer lock (path + ".lock"; a second writer fails at once), then adopts
  // the region at `path` if it is valid with the same ABI major and capacity — keeping its
  // generation, ids and reader slots, so a restarted eclb-control causes no gap — or
  // else creates a new region and atomically replaces the old file, marking it retired
  // so attached readers move over.
  static Result<TableWriter> open(const Options& options);

  TableWriter(TableWriter&&) noexcept;
  TableWriter& operator=(TableWriter&&) noexcept;
  ~TableWriter();

  // Validates `content` against the capacity, waits (bounded by the grace period) until
  // no registered reader uses the inactive copy, writes and publishes it. On error
  // nothing is published and the current generation keeps serving.
  Result<PublishReport> publish(const TableContent& content);

  uint64_t generation() const noexcept { return segment_.generation(); }
  bool adopted() const noexcept { return adopted_; }
  const TableSegment& segment() const noexcept { return segment_; }

 private:
  using VipKey = std::tuple<Endpoint, abi::L4Protocol>;
  using MemberKey = std::tuple<Endpoint, abi::L4Protocol, Endpoint>;
  struct MemberId {
    uint32_t id;
    uint32_t incarnation;
  };

  TableWriter() = default;
  Result<void> check_fits(const TableContent& content) const;
  PublishReport wait_for_readers(uint64_t needed);
  void learn_ids_from_active_copy();

  TableSegment segment_;
  Options options_;
  int lock_fd_ = -1;
  bool adopted_ = false;
  std::map<VipKey, uint32_t> vip_ids_;
  std::map<MemberKey, MemberId> member_ids_;
};

}  // namespace eclb::ctl
