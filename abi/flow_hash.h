// flow_hash: the hash that picks a flow's Maglev slot, slot = flow_hash(...) % table_size.
// It is part of the contract: eclb-dataplane uses it per packet, eclbctl uses it to
// answer which backend a flow goes to, and every host must compute the same value.
//
// Definition (version 1): XXH3-64 with the seed published in the table copy
// (CopyHeader::flow_hash_seed, from the config's tables.flow_hash_seed) over the key
//   IPv4: source address (4) | destination address (4) | source port (2) |
//         destination port (2) | IP protocol (1)                         = 13 bytes
//   IPv6: source address (16) | destination address (16) | source port (2) |
//         destination port (2) | IP protocol (1)                        = 37 bytes
// addresses and ports in network byte order, as on the wire; ports are 0 for protocols
// without ports.
#pragma once

#include <cstdint>
#include <cstring>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "abi/table_region.h"

namespace eclb::abi {

struct FlowKey {
  uint8_t src[16];      // IPv4 in bytes 0-3, rest zero
  uint8_t dst[16];
  uint16_t src_port_be;
  uint16_t dst_port_be;
  AddressFamily family;
  uint8_t protocol;
  uint16_t reserved;    // zero: keys compare as 40 bytes
};
static_assert(sizeof(FlowKey) == 40);

inline bool operator==(const FlowKey& a, const FlowKey& b) noexcept { return std::memcmp(&a, &b, sizeof a) == 0; }

namespace detail {
// The key bytes of one family, with every length a compile-time constant so the copies
// inline and XXH3 takes its fixed-length path (bench/micro/packet_parser_bench).
template <size_t kAddressBytes>
inline uint64_t flow_hash_of(const FlowKey& key, uint64_t seed) noexcept {
  uint8_t bytes[2 * kAddressBytes + 5];
  std::memcpy(bytes, key.src, kAddressBytes);
  std::memcpy(bytes + kAddressBytes, key.dst, kAddressBytes);
  std::memcpy(bytes + 2 * kAddressBytes, &key.src_port_be, 2);
  std::memcpy(bytes + 2 * kAddressBytes + 2, &key.dst_port_be, 2);
  bytes[2 * kAddressBytes + 4] = key.protocol;
  return XXH3_64bits_withSeed(bytes, sizeof bytes, seed);
}

// The IPv4 key's XXH3-64 computed from the key's fields: for 9 to 16 bytes XXH3
// (xxhash 0.8, XXH3_len_9to16_64b) reads its input as two little-endian 64-bit words,
// bytes 0-7 and 5-12, which are built here in registers. Same value as flow_hash_of<4>
// (flow_hash_test compares them), without the copy into a byte array whose 8-byte
// reads would wait on the 1-, 2- and 4-byte stores that built it (the per-packet path).
inline uint64_t flow_hash_ipv4(const FlowKey& key, uint64_t seed) noexcept {
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);
  uint32_t src, dst;
  uint16_t src_port, dst_port;
  std::memcpy(&src, key.src, 4);
  std::memcpy(&dst, key.dst, 4);
  std::memcpy(&src_port, &key.src_port_be, 2);
  std::memcpy(&dst_port, &key.dst_port_be, 2);
  const uint64_t lo = uint64_t{src} | uint64_t{dst} << 32;
  const uint64_t hi = uint64_t{dst} >> 8 | uint64_t{src_port} << 24 | uint64_t{dst_port} << 40 | uint64_t{key.protocol} << 56;
  const uint64_t bitflip1 = (XXH_readLE64(XXH3_kSecret + 24) ^ XXH_readLE64(XXH3_kSecret + 32)) + seed;
  const uint64_t bitflip2 = (XXH_readLE64(XXH3_kSecret + 40) ^ XXH_readLE64(XXH3_kSecret + 48)) - seed;
  const uint64_t input_lo = lo ^ bitflip1;
  const uint64_t input_hi = hi ^ bitflip2;
  return XXH3_avalanche(13 + XXH_swap64(input_lo) + input_hi + XXH3_mul128_fold64(input_lo, input_hi));
}
}  // namespace detail

inline uint64_t flow_hash(const FlowKey& key, uint64_t seed) noexcept {
  return key.family == AddressFamily::kIpv6 ? detail::flow_hash_of<16>(key, seed) : detail::flow_hash_ipv4(key, seed);
}

}  // namespace eclb::abi
