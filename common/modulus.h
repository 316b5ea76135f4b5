// x mod m without a division instruction (Barrett reduction), for the Maglev build's
// hashing and end phase, and the dataplane's slot of a new flow (flow hash mod the
// table size) on the per-packet path.
#pragma once

#include <cstdint>

namespace eclb {

// The quotient estimate floor(x * floor(2^64 / m) / 2^64) falls short of floor(x / m) by
// at most 1 for any 64-bit x, so one subtraction finishes the remainder.
class Modulus {
 public:
  explicit Modulus(uint32_t m) noexcept : m_(m), reciprocal_(~uint64_t{0} / m) {}
  uint32_t of(uint64_t x) const noexcept {
    const auto quotient = static_cast<uint64_t>((static_cast<unsigned __int128>(x) * reciprocal_) >> 64);
    uint64_t rest = x - quotient * m_;
    while (rest >= m_) rest -= m_;
    return static_cast<uint32_t>(rest);
  }
  uint32_t divisor() const noexcept { return static_cast<uint32_t>(m_); }

 private:
  uint64_t m_;
  uint64_t reciprocal_;
};

}  // namespace eclb
