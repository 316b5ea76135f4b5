// Incremental Internet checksum updates (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')) for
// rewriting addresses and ports in place. Words are taken in memory (network) order,
// which one's complement sums do not care about as long as old and new agree.
#pragma once

#include <cstdint>
#include <cstring>

namespace eclb::dp {

// The one's complement sum of `words` 32-bit words at `data` folded to 16 bits, in
// memory order: an IPv4 header (5 to 15 words) sums to 0xFFFF when its checksum is
// right, and ~sum of a header with a zero checksum field is the checksum to store.
// Five 32-bit adds instead of the generic 16-bit loop (rte_raw_cksum).
// A sum of 32-bit words (any 64-bit value) folded to 16 bits with end-around carries.
// 64 -> 32: the halves' sum is below 2^33, so adding its carry back cannot carry again.
// 32 -> 16: adding the value rotated by 16 puts hi + lo + (the carry out of lo + hi) in
// the high half, which is the one's complement sum of the halves (per packet: two of these).
inline uint16_t fold_ones(uint64_t sum) noexcept {
  const uint64_t halves = (sum & 0xFFFFFFFF) + (sum >> 32);
  uint32_t folded = static_cast<uint32_t>(halves) + static_cast<uint32_t>(halves >> 32);
  folded += folded >> 16 | folded << 16;
  return static_cast<uint16_t>(folded >> 16);
}

inline uint16_t ones_sum32(const uint8_t* data, uint32_t words) noexcept {
  uint64_t sum = 0;
  for (uint32_t i = 0; i < words; ++i) {
    uint32_t word;
    std::memcpy(&word, data + 4 * i, 4);
    sum += word;
  }
  return fold_ones(sum);
}

class ChecksumDelta {
 public:
  // Accounts for `bytes` (even) at `old_bytes` becoming `new_bytes`.
  void replace(const uint8_t* old_bytes, const uint8_t* new_bytes, uint32_t bytes) noexcept {
    for (uint32_t i = 0; i < bytes; i += 2) {
      uint16_t before, after;
      std::memcpy(&before, old_bytes + i, 2);
      std::memcpy(&after, new_bytes + i, 2);
      sum_ += static_cast<uint16_t>(~before);
      sum_ += after;
    }
  }
  void replace16(uint16_t before, uint16_t after) noexcept {
    sum_ += static_cast<uint16_t>(~before);
    sum_ += after;
  }
  // Applies the delta to the checksum field at `field` (2 bytes, memory order).
  void apply(uint8_t* field) const noexcept {
    uint16_t check;
    std::memcpy(&check, field, 2);
    uint64_t sum = static_cast<uint16_t>(~check) + sum_;
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    check = static_cast<uint16_t>(~sum);
    std::memcpy(field, &check, 2);
  }

 private:
  uint64_t sum_ = 0;
};

}  // namespace eclb::dp
