// Maglev population (NSDI 2016, §3.4, Pseudocode 1) with weighted turns.
#include "control/core/maglev_table.h"

#include <immintrin.h>
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "control/core/prime.h"

namespace eclb::ctl {
namespace {

struct Permutation {
  uint32_t original_index;  // position in the caller's span
  uint32_t weight;
  uint32_t offset;        // slot at permutation position 0
  uint32_t skip;
  uint32_t inverse_skip;  // skip^-1 mod M, computed when first needed by the end phase
  MaglevKey key;
};

// What a turn touches, kept apart from the rest so the walks of 1000 backends fit in 12 KB.
struct Walk {
  uint32_t next;  // slot at the permutation position after the last claim
  uint32_t skip;
  uint32_t owner;  // the backend's position in the caller's span
};

// Fills the slots one turn at a time. Every turn claims the first free slot in the
// turn-taker's permutation (offset + j * skip mod M, j = 0, 1, ...). The permutation
// pointer only moves past taken slots, so every slot before it is taken: the claim is
// simply the free slot with the smallest permutation position.
//
// Cost: scanning takes about M ln M probes in all (~720k for M = 65537), and most of
// them go to the last few hundred free slots, where each turn scans ~M/F slots for F
// free. Once F <= sqrt(M) a turn instead computes the permutation position of every
// free slot ((s - offset) * skip^-1 mod M, Barrett-reduced) and takes the minimum: F
// multiplications instead of ~M/F probes.
//
// Before that, on CPUs with AVX2, a turn first tests two slots without a branch (early
// in the fill one of them is almost always free), then probes eight permutation positions
// per step with one gather from the taken bitmap, so a long scan branches once per eight
// probes. Same claims, same table: maglev_table_test checks it against the one-slot probe
// and a naive population. bench/micro/maglev_build_bench measures both probes.
class SlotFiller {
 public:
  SlotFiller(std::vector<Permutation>& perms, std::vector<uint32_t>& slots, uint32_t table_size,
             MaglevTable::Probe probe)
      : perms_(perms),
        slots_(slots),
        table_size_(table_size),
        free_count_(table_size),
        end_phase_at_(std::max<uint32_t>(16, static_cast<uint32_t>(std::sqrt(double(table_size))))),
        barrett_(~uint64_t{0} / table_size),
        eight_lanes_(probe == MaglevTable::Probe::kAuto && __builtin_cpu_supports("avx2")),
        taken_((table_size + 31) / 32, 0) {
    walks_.reserve(perms.size());
    for (const Permutation& p : perms) walks_.push_back({p.offset, p.skip, p.original_index});
  }

  bool full() const noexcept { return free_count_ == 0; }

  void take_turn(uint32_t perm) {
    Walk& walk = walks_[perm];
    uint32_t claimed;
    if (free_count_ > end_phase_at_) [[likely]] {
      claimed = eight_lanes_ ? first_free_eight_lanes(walk) : first_free(walk);
    } else {
      claimed = claim_by_position(perms_[perm]);
    }
    taken_[claimed >> 5] |= uint32_t{1} << (claimed & 31);
    slots_[claimed] = walk.owner;
    walk.next = advance(claimed, walk.skip);
    --free_count_;
  }

 private:
  bool is_taken(uint32_t slot) const noexcept { return (taken_[slot >> 5] >> (slot & 31)) & 1; }

  uint32_t advance(uint32_t slot, uint32_t step) const noexcept {
    slot += step;
    return slot >= table_size_ ? slot - table_size_ : slot;
  }

  uint32_t first_free(const Walk& walk) const noexcept {
    uint32_t slot = walk.next;
    while (is_taken(slot)) slot = advance(slot, walk.skip);
    return slot;
  }

  __attribute__((target("avx2"))) uint32_t first_free_eight_lanes(const Walk& walk) const noexcept {
    const uint32_t first = walk.next, second = advance(first, walk.skip);
    const bool first_taken = is_taken(first), second_taken = is_taken(second);
    if (!(first_taken && second_taken)) [[likely]] return first_taken ? second : first;

    // Lane k probes position j + k: its slot is base + (k * skip mod M), reduced from
    // k * skip < 8M by conditional subtraction (unsigned min(x, x - c) is x - c when
    // x >= c, else x, because x - c wraps above x; 8M + 4M < 2^32).
    const __m256i size = _mm256_set1_epi32(static_cast<int>(table_size_));
    const __m256i size2 = _mm256_add_epi32(size, size), size4 = _mm256_add_epi32(size2, size2);
    __m256i steps = _mm256_mullo_epi32(_mm256_set1_epi32(static_cast<int>(walk.skip)),
                                       _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    steps = _mm256_min_epu32(steps, _mm256_sub_epi32(steps, size4));
    steps = _mm256_min_epu32(steps, _mm256_sub_epi32(steps, size2));
    steps = _mm256_min_epu32(steps, _mm256_sub_epi32(steps, size));
    const uint32_t eight_skips = advance(_mm256_extract_epi32(steps, 7), walk.skip);
    const __m256i one = _mm256_set1_epi32(1);
    const __m256i low_bits = _mm256_set1_epi32(31);
    const auto* words = reinterpret_cast<const int*>(taken_.data());
    uint32_t base = advance(second, walk.skip);
    for (;;) {
      __m256i lanes = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(base)), steps);
      lanes = _mm256_min_epu32(lanes, _mm256_sub_epi32(lanes, size));  // both are < 2M
      const __m256i word = _mm256_i32gather_epi32(words, _mm256_srli_epi32(lanes, 5), 4);
      const __m256i bit = _mm256_sllv_epi32(one, _mm256_and_si256(lanes, low_bits));
      const __m256i is_free = _mm256_cmpeq_epi32(_mm256_and_si256(word, bit), _mm256_setzero_si256());
      const auto free_lanes = static_cast<uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(is_free)));
      if (free_lanes != 0) [[likely]] {
        const __m256i first_free = _mm256_set1_epi32(__builtin_ctz(free_lanes));
        return static_cast<uint32_t>(_mm256_cvtsi256_si32(_mm256_permutevar8x32_epi32(lanes, first_free)));
      }
      base = advance(base, eight_skips);
    }
  }

  uint32_t mod(uint64_t x) const noexcept {  // x < 2^50
    const auto quotient = static_cast<uint64_t>((static_cast<unsigned __int128>(x) * barrett_) >> 64);
    uint64_t rest = x - quotient * table_size_;
    while (rest >= table_size_) rest -= table_size_;
    return static_cast<uint32_t>(rest);
  }

  uint32_t inverse(uint32_t value) const noexcept {  // value^(M-2) mod M, M prime
    uint64_t result = 1, base = value, exponent = table_size_ - 2;
    while (exponent != 0) {
      if (exponent & 1) result = mod(result * base);
      base = mod(base * base);
      exponent >>= 1;
    }
    return static_cast<uint32_t>(result);
  }

  uint32_t claim_by_position(Permutation& p) {
    if (free_.empty()) {
      free_.reserve(free_count_);
      for (uint32_t word = 0; word < taken_.size(); ++word) {
        for (uint32_t free_bits = ~taken_[word]; free_bits != 0; free_bits &= free_bits - 1) {
          const uint32_t slot = word * 32 + static_cast<uint32_t>(__builtin_ctz(free_bits));
          if (slot < table_size_) free_.push_back(slot);
        }
      }
    }
    if (p.inverse_skip == 0) p.inverse_skip = inverse(p.skip);
    size_t best = 0;
    uint32_t best_position = UINT32_MAX;
    for (size_t i = 0; i < free_.size(); ++i) {
      const uint32_t position = mod(uint64_t{free_[i] + table_size_ - p.offset} * p.inverse_skip);
      if (position < best_position) {
        best_position = position;
        best = i;
      }
    }
    const uint32_t claimed = free_[best];
    free_[best] = free_.back();
    free_.pop_back();
    return claimed;
  }

  std::vector<Permutation>& perms_;
  std::vector<Walk> walks_;  // walks_[i] is perms_[i]'s
  std::vector<uint32_t>& slots_;
  const uint32_t table_size_;
  uint32_t free_count_;
  const uint32_t end_phase_at_;
  const uint64_t barrett_;
  const bool eight_lanes_;
  std::vector<uint32_t> taken_;  // bit s & 31 of word s >> 5: slot s is claimed
  std::vector<uint32_t> free_;  // filled once the end phase starts
};

// The paper's loop: every backend takes one turn per round, in identity order.
void fill_equal(std::vector<Permutation>& perms, std::vector<uint32_t>& slots, uint32_t table_size,
                MaglevTable::Probe probe) {
  SlotFiller filler(perms, slots, table_size, probe);
  const auto count = static_cast<uint32_t>(perms.size());
  for (;;) {
    for (uint32_t perm = 0; perm < count; ++perm) {
      filler.take_turn(perm);
      if (filler.full()) return;
    }
  }
}

// Stride scheduling: the k-th turn of backend i is due at (2k+1) / (2 w_i). The heap
// pops the earliest due turn; ties go to the lower identity.
void fill_weighted(std::vector<Permutation>& perms, std::vector<uint32_t>& slots, uint32_t table_size,
                   MaglevTable::Probe probe) {
  struct Due {
    uint64_t numerator;  // 2k+1
    uint32_t weight;
    uint32_t perm;
  };
  auto later = [](const Due& a, const Due& b) {
    // a later than b  <=>  a.numerator / a.weight > b.numerator / b.weight. No overflow:
    // numerator <= 2M+1 < 2^25 and weight <= kMaxMaglevWeight = 2^24.
    const uint64_t lhs = a.numerator * b.weight;
    const uint64_t rhs = b.numerator * a.weight;
    if (lhs != rhs) return lhs > rhs;
    return a.perm > b.perm;
  };
  // A binary min-heap on due time whose top is replaced in place after each turn: one
  // sift-down per turn instead of a pop and a push.
  std::vector<Due> heap;
  heap.reserve(perms.size());
  for (uint32_t i = 0; i < perms.size(); ++i) heap.push_back({1, perms[i].weight, i});
  std::make_heap(heap.begin(), heap.end(), later);
  const size_t count = heap.size();
  SlotFiller filler(perms, slots, table_size, probe);
  while (!filler.full()) {
    filler.take_turn(heap[0].perm);
    Due moved = heap[0];
    moved.numerator += 2;
    size_t hole = 0;
    for (;;) {
      size_t child = 2 * hole + 1;
      if (child >= count) break;
      if (child + 1 < count && later(heap[child], heap[child + 1])) ++child;
      if (!later(moved, heap[child])) break;
      heap[hole] = heap[child];
      hole = child;
    }
    heap[hole] = moved;
  }
}

}  // namespace

MaglevKey maglev_key(const Endpoint& endpoint) noexcept {
  MaglevKey key{};
  key[0] = static_cast<uint8_t>(endpoint.address.family);
  std::copy(endpoint.address.bytes.begin(), endpoint.address.bytes.end(), key.begin() + 1);
  key[17] = static_cast<uint8_t>(endpoint.port >> 8);
  key[18] = static_cast<uint8_t>(endpoint.port & 0xff);
  return key;
}

Result<MaglevTable> MaglevTable::build(std::span<const MaglevBackend> backends, uint32_t table_size, Fill fill,
                                       Probe probe) {
  if (!is_prime(table_size)) return make_error("table size {} is not prime", table_size);
  if (table_size > abi::kMaxTableSize) {
    return make_error("table size {} exceeds the maximum {}", table_size, abi::kMaxTableSize);
  }
  std::vector<Permutation> perms;
  perms.reserve(backends.size());
  for (uint32_t i = 0; i < backends.size(); ++i) {
    if (backends[i].endpoint.address.family == abi::AddressFamily::kNone) {
      return make_error("backend {} has no address", i);
    }
    if (backends[i].weight > kMaxMaglevWeight) {
      return make_error("backend {} weight {} exceeds the maximum {}", backends[i].endpoint.to_string(),
                        backends[i].weight, kMaxMaglevWeight);
    }
    Permutation& p = perms.emplace_back();
    p.original_index = i;
    p.weight = backends[i].weight;
    p.key = maglev_key(backends[i].endpoint);
  }
  std::sort(perms.begin(), perms.end(), [](const Permutation& a, const Permutation& b) { return a.key < b.key; });
  for (size_t i = 1; i < perms.size(); ++i) {
    if (perms[i].key == perms[i - 1].key) {
      return make_error("duplicate backend {}", backends[perms[i].original_index].endpoint.to_string());
    }
  }
  std::erase_if(perms, [](const Permutation& p) { return p.weight == 0; });
  if (perms.size() > table_size) {
    return make_error("{} weighted backends do not fit a table of {} slots", perms.size(), table_size);
  }

  MaglevTable table;
  table.slots_.assign(table_size, abi::kNoBackend);
  if (perms.empty()) return table;
  for (Permutation& p : perms) {
    p.offset = static_cast<uint32_t>(XXH64(p.key.data(), p.key.size(), kMaglevOffsetSeed) % table_size);
    p.skip = table_size == 1 ? 1
                             : static_cast<uint32_t>(XXH64(p.key.data(), p.key.size(), kMaglevSkipSeed) %
                                                     (table_size - 1)) + 1;
  }
  const bool equal_weights = std::all_of(perms.begin(), perms.end(),
                                         [&](const Permutation& p) { return p.weight == perms.front().weight; });
  if (equal_weights && fill == Fill::kAuto) {
    fill_equal(perms, table.slots_, table_size, probe);
  } else {
    fill_weighted(perms, table.slots_, table_size, probe);
  }
  return table;
}

std::vector<uint32_t> MaglevTable::slot_counts(size_t backend_count) const {
  std::vector<uint32_t> counts(backend_count, 0);
  for (const uint32_t slot : slots_) {
    if (slot < backend_count) ++counts[slot];
  }
  return counts;
}

}  // namespace eclb::ctl
