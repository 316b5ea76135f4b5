// Finding a backend's next Maglev slot: the first free slot in its permutation
// (offset + j * skip mod M, j = next, next + 1, ...), scalar and with AVX2 gathers. Used
// only by maglev_table.cpp's fill; the AVX2 functions are inlined into AVX2 callers.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace eclb::ctl::maglev {

// What a turn touches, kept apart from the rest so the walks of 1000 backends fit in 12 KB.
struct Walk {
  uint32_t next;  // slot at the permutation position after the last claim
  uint32_t skip;
  uint32_t owner;  // the backend's position in the caller's span
};

// Lane k's step from a scan position: k * skip mod M, for k = 0..7.
struct alignas(32) EightSteps {
  uint32_t lane[8];
};

inline uint32_t advance(uint32_t slot, uint32_t step, uint32_t table_size) noexcept {
  slot += step;
  return slot >= table_size ? slot - table_size : slot;
}

// Bit s & 31 of word s >> 5 is set when slot s is claimed.
inline bool is_taken(const uint32_t* taken, uint32_t slot) noexcept { return (taken[slot >> 5] >> (slot & 31)) & 1; }

inline uint32_t first_free_scalar(const uint32_t* taken, uint32_t table_size, const Walk& walk) noexcept {
  uint32_t slot = walk.next;
  while (is_taken(taken, slot)) slot = advance(slot, walk.skip, table_size);
  return slot;
}

// k * skip < 8M reduced by conditional subtraction: unsigned min(x, x - c) is x - c when
// x >= c, else x (x - c wraps above x). 8M + 4M < 2^32 for M <= 2^24.
__attribute__((target("avx2"))) inline EightSteps eight_steps(uint32_t table_size, uint32_t skip) noexcept {
  const __m256i size = _mm256_set1_epi32(static_cast<int>(table_size));
  const __m256i size2 = _mm256_add_epi32(size, size), size4 = _mm256_add_epi32(size2, size2);
  __m256i steps = _mm256_mullo_epi32(_mm256_set1_epi32(static_cast<int>(skip)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  steps = _mm256_min_epu32(steps, _mm256_sub_epi32(steps, size4));
  steps = _mm256_min_epu32(steps, _mm256_sub_epi32(steps, size2));
  steps = _mm256_min_epu32(steps, _mm256_sub_epi32(steps, size));
  EightSteps out;
  _mm256_store_si256(reinterpret_cast<__m256i*>(out.lane), steps);
  return out;
}

__attribute__((target("avx2"), always_inline)) inline __m256i load(const EightSteps& eight) noexcept {
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(eight.lane));
}

// Probes the eight slots base + steps[k]: true, and the first free one in `slot`, when
// one of them is free. One gather from the bitmap for all eight.
__attribute__((target("avx2"), always_inline)) inline bool scan_eight(const uint32_t* taken, uint32_t table_size,
                                                                      __m256i steps, uint32_t base,
                                                                      uint32_t& slot) noexcept {
  const __m256i size = _mm256_set1_epi32(static_cast<int>(table_size));
  __m256i lanes = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(base)), steps);
  lanes = _mm256_min_epu32(lanes, _mm256_sub_epi32(lanes, size));  // both are < 2M
  const __m256i word = _mm256_i32gather_epi32(reinterpret_cast<const int*>(taken), _mm256_srli_epi32(lanes, 5), 4);
  const __m256i bit = _mm256_sllv_epi32(_mm256_set1_epi32(1), _mm256_and_si256(lanes, _mm256_set1_epi32(31)));
  const __m256i is_free = _mm256_cmpeq_epi32(_mm256_and_si256(word, bit), _mm256_setzero_si256());
  const auto free_lanes = static_cast<uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(is_free)));
  const __m256i first_free = _mm256_set1_epi32(__builtin_ctz(free_lanes | 0x100));  // 8 (lane 0): none free
  slot = static_cast<uint32_t>(_mm256_cvtsi256_si32(_mm256_permutevar8x32_epi32(lanes, first_free)));
  return free_lanes != 0;
}

// The first free slot from position `walk.next` on, eight positions per step: a long scan
// branches once per eight probes.
__attribute__((target("avx2"), always_inline)) inline uint32_t first_free_gather(const uint32_t* taken,
                                                                                 uint32_t table_size, const Walk& walk,
                                                                                 const EightSteps& eight) noexcept {
  const __m256i steps = load(eight);
  const uint32_t eight_skips = advance(eight.lane[7], walk.skip, table_size);
  uint32_t base = walk.next, slot;
  while (!scan_eight(taken, table_size, steps, base, slot)) base = advance(base, eight_skips, table_size);
  return slot;
}

}  // namespace eclb::ctl::maglev
