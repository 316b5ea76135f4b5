// fold_ones and ones_sum32 against the textbook fold (add the carries back until none is
// left), on edge sums and random ones; and an IPv4 header checked both ways.
#include "dataplane/fastpath/checksum.h"

#include <gtest/gtest.h>

#include <random>

#include "tests/unit/support/packet_builder.h"

namespace eclb::dp {
namespace {

uint16_t reference_fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

TEST(ChecksumTest, FoldMatchesTheTextbookFoldOnEdges) {
  for (const uint64_t sum : {uint64_t{0}, uint64_t{1}, uint64_t{0xFFFF}, uint64_t{0x10000}, uint64_t{0x1FFFE},
                             uint64_t{0xFFFF0000}, uint64_t{0xFFFFFFFF}, uint64_t{1} << 32, (uint64_t{1} << 33) - 1,
                             uint64_t{15} * 0xFFFFFFFF, uint64_t{0xFFFFFFFF} << 32, ~uint64_t{0}, ~uint64_t{0} - 1}) {
    EXPECT_EQ(fold_ones(sum), reference_fold(sum)) << std::hex << sum;
  }
}

TEST(ChecksumTest, FoldMatchesTheTextbookFoldOnRandomSums) {
  std::mt19937_64 random(17);
  for (int i = 0; i < 1'000'000; ++i) {
    const uint64_t sum = random() >> (random() % 64);  // every magnitude
    ASSERT_EQ(fold_ones(sum), reference_fold(sum)) << std::hex << sum;
  }
}

TEST(ChecksumTest, AnIpv4HeaderWithItsChecksumSumsToAllOnes) {
  const auto frame = test::build_frame(test::FrameSpec{});
  const uint8_t* ip = frame.data() + 14;
  EXPECT_EQ(ones_sum32(ip, 5), 0xFFFF);
  auto broken = frame;
  broken[14 + 8] ^= 0x01;  // the TTL
  EXPECT_NE(ones_sum32(broken.data() + 14, 5), 0xFFFF);
}

}  // namespace
}  // namespace eclb::dp
