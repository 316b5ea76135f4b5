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
}  // namespace detail

inline uint64_t flow_hash(const FlowKey& key, uint64_t seed) noexcept {
  return key.family == AddressFamily::kIpv6 ? detail::flow_hash_of<16>(key, seed) : detail::flow_hash_of<4>(key, seed);
}

}  // namespace eclb::abi
