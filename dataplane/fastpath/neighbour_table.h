// NeighbourTable: the next-hop MAC of every backend (by stable member id) on one port.
// The dataplane's control lcore resolves next hops (ARP / ND) and publishes MACs here;
// workers read them per packet with one relaxed 64-bit load (a MAC and its valid bit
// share the word, so a reader never sees half an update).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>

namespace eclb::dp {

class NeighbourTable {
 public:
  static constexpr uint64_t kValid = uint64_t{1} << 63;

  explicit NeighbourTable(uint32_t capacity)
      : capacity_(capacity), entries_(std::make_unique<std::atomic<uint64_t>[]>(capacity)) {
    for (uint32_t i = 0; i < capacity; ++i) entries_[i].store(0, std::memory_order_relaxed);
  }

  uint32_t capacity() const noexcept { return capacity_; }

  // Worker side: the packed MAC of backend `id`, 0 if unresolved.
  uint64_t lookup(uint32_t id) const noexcept {
    return id < capacity_ ? entries_[id].load(std::memory_order_relaxed) : 0;
  }
  // The MAC sits in the low six bytes in memory order, so unpacking is one 6-byte copy.
  static void unpack(uint64_t packed, uint8_t* mac) noexcept { std::memcpy(mac, &packed, 6); }
  static uint64_t pack(const uint8_t* mac) noexcept {
    uint64_t packed = 0;
    std::memcpy(&packed, mac, 6);
    return packed | kValid;
  }

  // Control lcore side.
  void publish(uint32_t id, const uint8_t* mac) noexcept {
    if (id < capacity_) entries_[id].store(pack(mac), std::memory_order_relaxed);
  }
  void clear(uint32_t id) noexcept {
    if (id < capacity_) entries_[id].store(0, std::memory_order_relaxed);
  }

 private:
  uint32_t capacity_;
  std::unique_ptr<std::atomic<uint64_t>[]> entries_;
};

}  // namespace eclb::dp
