// Maglev population (NSDI 2016, §3.4, Pseudocode 1) with weighted turns.
#include "control/core/maglev_table.h"

#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <queue>

#include "control/core/prime.h"

namespace eclb::ctl {
namespace {

struct Permutation {
  uint32_t original_index;  // position in the caller's span
  uint32_t weight;
  uint32_t offset;  // slot at permutation position 0
  uint32_t skip;
  uint32_t next;          // next candidate: slot at the permutation position after the last claim
  uint32_t inverse_skip;  // skip^-1 mod M, computed when first needed by the end phase
  MaglevKey key;
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
// multiplications instead of ~M/F probes. The result is identical; the build of
// N = 1000, M = 65537 drops from ~1.65 to ~1.3 ms (bench/micro/maglev_build_bench).
class SlotFiller {
 public:
  SlotFiller(std::vector<uint32_t>& slots, uint32_t table_size)
      : slots_(slots),
        table_size_(table_size),
        free_count_(table_size),
        end_phase_at_(std::max<uint32_t>(16, static_cast<uint32_t>(std::sqrt(double(table_size))))),
        barrett_(~uint64_t{0} / table_size),
        taken_((table_size + 63) / 64, 0) {}

  bool full() const noexcept { return free_count_ == 0; }

  void take_turn(Permutation& p) {
    uint32_t claimed;
    if (free_count_ > end_phase_at_) [[likely]] {
      claimed = p.next;
      while (is_taken(claimed)) claimed = advance(claimed, p.skip);
    } else {
      claimed = claim_by_position(p);
    }
    taken_[claimed >> 6] |= uint64_t{1} << (claimed & 63);
    slots_[claimed] = p.original_index;
    p.next = advance(claimed, p.skip);
    --free_count_;
  }

 private:
  bool is_taken(uint32_t slot) const noexcept { return (taken_[slot >> 6] >> (slot & 63)) & 1; }

  uint32_t advance(uint32_t slot, uint32_t step) const noexcept {
    slot += step;
    return slot >= table_size_ ? slot - table_size_ : slot;
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
      for (uint32_t slot = 0; slot < table_size_; ++slot) {
        if (!is_taken(slot)) free_.push_back(slot);
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

  std::vector<uint32_t>& slots_;
  const uint32_t table_size_;
  uint32_t free_count_;
  const uint32_t end_phase_at_;
  const uint64_t barrett_;
  std::vector<uint64_t> taken_;
  std::vector<uint32_t> free_;  // filled once the end phase starts
};

// The paper's loop: every backend takes one turn per round, in identity order.
void fill_equal(std::vector<Permutation>& perms, std::vector<uint32_t>& slots, uint32_t table_size) {
  SlotFiller filler(slots, table_size);
  for (;;) {
    for (Permutation& p : perms) {
      filler.take_turn(p);
      if (filler.full()) return;
    }
  }
}

// Stride scheduling: the k-th turn of backend i is due at (2k+1) / (2 w_i). The heap
// pops the earliest due turn; ties go to the lower identity.
void fill_weighted(std::vector<Permutation>& perms, std::vector<uint32_t>& slots, uint32_t table_size) {
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
  std::vector<Due> heap;
  heap.reserve(perms.size());
  for (uint32_t i = 0; i < perms.size(); ++i) heap.push_back({1, perms[i].weight, i});
  std::priority_queue<Due, std::vector<Due>, decltype(later)> queue(later, std::move(heap));
  SlotFiller filler(slots, table_size);
  while (!filler.full()) {
    Due due = queue.top();
    queue.pop();
    filler.take_turn(perms[due.perm]);
    due.numerator += 2;
    queue.push(due);
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

Result<MaglevTable> MaglevTable::build(std::span<const MaglevBackend> backends, uint32_t table_size, Fill fill) {
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
    perms.push_back({i, backends[i].weight, 0, 0, 0, 0, maglev_key(backends[i].endpoint)});
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
    p.next = p.offset;
    p.skip = table_size == 1 ? 1
                             : static_cast<uint32_t>(XXH64(p.key.data(), p.key.size(), kMaglevSkipSeed) %
                                                     (table_size - 1)) + 1;
  }
  const bool equal_weights = std::all_of(perms.begin(), perms.end(),
                                         [&](const Permutation& p) { return p.weight == perms.front().weight; });
  if (equal_weights && fill == Fill::kAuto) {
    fill_equal(perms, table.slots_, table_size);
  } else {
    fill_weighted(perms, table.slots_, table_size);
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
