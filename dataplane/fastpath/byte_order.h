// Unaligned big-endian loads and stores for header fields: packets give no alignment
// guarantee (a VLAN tag shifts every L3 field by 4 bytes).
#pragma once

#include <cstdint>
#include <cstring>

namespace eclb::dp {

// Host <-> network order of a 16-bit value. DPDK's rte_cpu_to_be_16 is an `xchg` in
// inline asm for a value not known at compile time, which the compiler can neither fold
// into a load or store nor schedule around; the builtin is a plain rotate it can.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);
constexpr uint16_t to_be16(uint16_t host) noexcept { return __builtin_bswap16(host); }
constexpr uint16_t from_be16(uint16_t network) noexcept { return __builtin_bswap16(network); }

inline uint16_t load_be16(const uint8_t* p) noexcept { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t load_be32(const uint8_t* p) noexcept {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
inline void store_be16(uint8_t* p, uint16_t value) noexcept {
  p[0] = static_cast<uint8_t>(value >> 8);
  p[1] = static_cast<uint8_t>(value);
}
inline void store_be32(uint8_t* p, uint32_t value) noexcept {
  p[0] = static_cast<uint8_t>(value >> 24);
  p[1] = static_cast<uint8_t>(value >> 16);
  p[2] = static_cast<uint8_t>(value >> 8);
  p[3] = static_cast<uint8_t>(value);
}
inline uint16_t load_u16(const uint8_t* p) noexcept {  // raw, keeps network order
  uint16_t value;
  std::memcpy(&value, p, 2);
  return value;
}

}  // namespace eclb::dp
