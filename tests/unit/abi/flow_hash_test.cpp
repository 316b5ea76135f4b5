// flow_hash is part of the contract (abi/flow_hash.h): the IPv4 path computed from the
// key's fields must give exactly XXH3-64 over the 13 key bytes laid out as documented,
// for any key and seed.
#include "abi/flow_hash.h"

#include <gtest/gtest.h>

#include <random>

namespace eclb::abi {
namespace {

uint64_t documented(const FlowKey& key, uint64_t seed) {
  uint8_t bytes[13];
  std::memcpy(bytes, key.src, 4);
  std::memcpy(bytes + 4, key.dst, 4);
  std::memcpy(bytes + 8, &key.src_port_be, 2);
  std::memcpy(bytes + 10, &key.dst_port_be, 2);
  bytes[12] = key.protocol;
  return XXH3_64bits_withSeed(bytes, sizeof bytes, seed);
}

TEST(FlowHashTest, Ipv4IsXxh3OfTheDocumentedBytes) {
  std::mt19937_64 random(1);
  for (int i = 0; i < 200000; ++i) {
    FlowKey key{};
    key.family = AddressFamily::kIpv4;
    const uint64_t r = random();
    std::memcpy(key.src, &r, 4);
    std::memcpy(key.dst, reinterpret_cast<const uint8_t*>(&r) + 4, 4);
    const uint64_t p = random();
    std::memcpy(&key.src_port_be, &p, 2);
    std::memcpy(&key.dst_port_be, reinterpret_cast<const uint8_t*>(&p) + 2, 2);
    key.protocol = static_cast<uint8_t>(p >> 32);
    const uint64_t seed = i % 3 == 0 ? 0 : random();
    ASSERT_EQ(flow_hash(key, seed), documented(key, seed)) << "key " << i;
    ASSERT_EQ(flow_hash(key, seed), detail::flow_hash_of<4>(key, seed));
  }
}

TEST(FlowHashTest, AKnownValue) {
  // 198.51.100.1:40000 -> 10.0.0.100:80 TCP, seed 7: pinned, so a change of the hash (or
  // of xxhash's XXH3) is seen here first, not as flows moving between hosts.
  FlowKey key{};
  key.family = AddressFamily::kIpv4;
  const uint8_t src[4] = {198, 51, 100, 1}, dst[4] = {10, 0, 0, 100};
  std::memcpy(key.src, src, 4);
  std::memcpy(key.dst, dst, 4);
  key.src_port_be = __builtin_bswap16(40000);
  key.dst_port_be = __builtin_bswap16(80);
  key.protocol = 6;
  EXPECT_EQ(flow_hash(key, 7), documented(key, 7));
  EXPECT_EQ(flow_hash(key, 7), 0x50cab4882328e960ull) << std::hex << flow_hash(key, 7);
}

}  // namespace
}  // namespace eclb::abi
