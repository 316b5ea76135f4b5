// add(): how a worker lcore bumps one of its counters in the stats region.
#pragma once

#include <cstdint>

namespace eclb::dp {

// Counters are written only by their lcore; the relaxed store makes readers in other
// processes see whole values (no locked read-modify-write on the hot path).
inline void add(uint64_t& counter, uint64_t value) noexcept {
  __atomic_store_n(&counter, counter + value, __ATOMIC_RELAXED);
}

}  // namespace eclb::dp
