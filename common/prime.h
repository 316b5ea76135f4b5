// Primality for Maglev table sizes (M must be prime so every skip generates a full
// permutation). Deterministic trial division: M <= 2^24, so at most ~2^12 divisions.
#pragma once

#include <cstdint>

namespace eclb {

constexpr bool is_prime(uint64_t n) noexcept {
  if (n < 2) return false;
  if (n % 2 == 0) return n == 2;
  if (n % 3 == 0) return n == 3;
  for (uint64_t d = 5; d * d <= n; d += 6) {
    if (n % d == 0 || n % (d + 2) == 0) return false;
  }
  return true;
}

}  // namespace eclb
