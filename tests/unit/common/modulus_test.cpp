// Modulus (Barrett reduction) gives exactly x % m, for the Maglev build and for the
// dataplane's slot of a new flow: any 64-bit x, table sizes from tiny to the largest.
#include "common/modulus.h"

#include <gtest/gtest.h>

#include <random>

namespace eclb {
namespace {

TEST(ModulusTest, EqualsTheRemainder) {
  std::mt19937_64 random(5);
  for (const uint32_t m : {1u, 2u, 3u, 7u, 251u, 65537u, 655373u, 1048573u, 16777213u, 4294967291u}) {
    const Modulus modulus(m);
    EXPECT_EQ(modulus.divisor(), m);
    for (const uint64_t x : {uint64_t{0}, uint64_t{m} - 1, uint64_t{m}, ~uint64_t{0}, ~uint64_t{0} - 1}) {
      ASSERT_EQ(modulus.of(x), x % m) << x << " mod " << m;
    }
    for (int i = 0; i < 100000; ++i) {
      const uint64_t x = random();
      ASSERT_EQ(modulus.of(x), x % m) << x << " mod " << m;
    }
  }
}

}  // namespace
}  // namespace eclb
