// Maglev population (NSDI 2016, §3.4, Pseudocode 1) with weighted turns.
#include "control/core/maglev_table.h"

// Inlined: a call into libxxhash per 19-byte key costs more than the hash.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <span>

#include "common/modulus.h"
#include "common/prime.h"
#include "control/core/maglev_probe.h"

namespace eclb::ctl {
namespace {

struct Permutation {
  uint32_t original_index;  // position in the caller's span
  uint32_t weight;
  uint32_t offset;        // slot at permutation position 0
  uint32_t skip;
  uint32_t inverse_skip;  // skip^-1 mod M, computed when first needed by the end phase
};

// A backend's identity key (maglev_key) as integers whose order is the bytes' order.
struct Identity {
  uint64_t high;    // key bytes 0-7, big-endian
  uint64_t middle;  // bytes 8-15
  uint32_t low;     // bytes 16-18
  uint32_t index;   // position in the caller's span
  uint32_t offset;  // the permutation's (see MaglevTable::build)
  uint32_t skip;

  static Identity of(const MaglevKey& key, uint32_t index) noexcept {
    Identity identity{0, 0, 0, index, 0, 0};
    for (size_t i = 0; i < 8; ++i) identity.high = identity.high << 8 | key[i];
    for (size_t i = 8; i < 16; ++i) identity.middle = identity.middle << 8 | key[i];
    for (size_t i = 16; i < key.size(); ++i) identity.low = identity.low << 8 | key[i];
    return identity;
  }
  bool same_key(const Identity& other) const noexcept {
    return high == other.high && middle == other.middle && low == other.low;
  }
  bool operator<(const Identity& other) const noexcept {
    if (high != other.high) return high < other.high;
    if (middle != other.middle) return middle < other.middle;
    return low < other.low;
  }
};

// Fills the slots one turn at a time. Every turn claims the first free slot in the
// turn-taker's permutation (offset + j * skip mod M, j = 0, 1, ...). The permutation
// pointer only moves past taken slots, so every slot before it is taken: the claim is
// simply the free slot with the smallest permutation position.
//
// Cost: scanning takes about M ln M probes in all (~720k for M = 65537), and most of
// them go to the last few hundred free slots, where each turn scans ~M/F slots for F
// free. Once F <= 0.45 sqrt(M) (the measured crossover) a turn instead computes the
// permutation position of every free slot ((s - offset) * skip^-1 mod M) and takes the
// minimum: F multiplications instead of ~M/F probes.
//
// Before that, on CPUs with AVX2 (maglev_probe.h), a turn probes eight permutation
// positions per gather from the taken bitmap, the next turn's first gather issued ahead
// of the current scan. Turns run in batches (take_turns: a round, or the turns due at
// one time) in one loop with the probe inlined. Same claims, same table:
// maglev_table_test checks it against the one-slot probe and a naive population, and
// bench/micro/maglev_build_bench measures both probes.
class SlotFiller {
 public:
  SlotFiller(std::vector<Permutation>& perms, std::vector<uint32_t>& slots, uint32_t table_size,
             MaglevTable::Probe probe)
      : perms_(perms),
        slots_(slots),
        table_size_(table_size),
        free_count_(table_size),
        end_phase_at_(std::max<uint32_t>(16, static_cast<uint32_t>(0.45 * std::sqrt(double(table_size))))),
        modulus_(table_size),
        eight_lanes_(probe == MaglevTable::Probe::kAuto && __builtin_cpu_supports("avx2")),
        taken_((table_size + 31) / 32, 0) {
    walks_.reserve(perms.size());
    for (const Permutation& p : perms) walks_.push_back({p.offset, p.skip, p.original_index});
    if (eight_lanes_) {
      steps_.reserve(perms.size());
      for (const Permutation& p : perms) steps_.push_back(maglev::eight_steps(table_size, p.skip));
    }
  }

  bool full() const noexcept { return free_count_ == 0; }

  // Turns for the backends in `order`, one each, in that order, until the table is
  // full.
  void take_turns(std::span<const uint32_t> order) {
    size_t i = eight_lanes_ ? take_turns_eight_lanes(order) : 0;
    for (; i < order.size() && !full(); ++i) {
      const uint32_t perm = order[i];
      claim(walks_[perm], free_count_ > end_phase_at_ ? maglev::first_free_scalar(taken_.data(), table_size_, walks_[perm])
                                                       : claim_by_position(perms_[perm]));
    }
  }

 private:
  void claim(maglev::Walk& walk, uint32_t slot) noexcept {
    taken_[slot >> 5] |= uint32_t{1} << (slot & 31);
    slots_[slot] = walk.owner;
    walk.next = maglev::advance(slot, walk.skip, table_size_);
    --free_count_;
  }

  // The turns of `order` until the end phase, with eight-lane gathers, software-
  // pipelined: the next turn's first eight probes go out before this turn's own scan,
  // whose mispredicted loop exit would otherwise leave the next gather's latency exposed
  // (8% of the 1000-backend build). They see the bitmap before this turn's claim, so
  // their first free slot is used only if it is still free; else the turn scans anew.
  // Returns how many turns it took.
  __attribute__((target("avx2"))) size_t take_turns_eight_lanes(std::span<const uint32_t> order) noexcept {
    size_t i = 0;
    uint32_t ahead_slot = 0;
    bool ahead_found = !order.empty() && first_eight(order[0], ahead_slot);
    for (; i < order.size() && free_count_ > end_phase_at_; ++i) {
      const uint32_t perm = order[i];
      uint32_t slot = ahead_slot;
      const bool found = ahead_found;
      if (i + 1 < order.size()) ahead_found = first_eight(order[i + 1], ahead_slot);
      if (!found || maglev::is_taken(taken_.data(), slot)) {
        slot = maglev::first_free_gather(taken_.data(), table_size_, walks_[perm], steps_[perm]);
      }
      claim(walks_[perm], slot);
    }
    return i;
  }

  // The first eight probes of `perm`'s scan: true and the first free slot, if any.
  __attribute__((target("avx2"), always_inline)) bool first_eight(uint32_t perm, uint32_t& slot) const noexcept {
    return maglev::scan_eight(taken_.data(), table_size_, maglev::load(steps_[perm]), walks_[perm].next, slot);
  }

  uint32_t inverse(uint32_t value) const noexcept {  // value^(M-2) mod M, M prime
    uint64_t result = 1, base = value, exponent = table_size_ - 2;
    while (exponent != 0) {
      if (exponent & 1) result = modulus_.of(result * base);
      base = modulus_.of(base * base);
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
      const uint32_t position = modulus_.of(uint64_t{free_[i] + table_size_ - p.offset} * p.inverse_skip);
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
  std::vector<maglev::Walk> walks_;  // walks_[i] is perms_[i]'s
  std::vector<maglev::EightSteps> steps_;  // steps_[i] is perms_[i]'s, with eight lanes only
  std::vector<uint32_t>& slots_;
  const uint32_t table_size_;
  uint32_t free_count_;
  const uint32_t end_phase_at_;
  const Modulus modulus_;
  const bool eight_lanes_;
  std::vector<uint32_t> taken_;  // the claimed slots, maglev::is_taken's bitmap
  std::vector<uint32_t> free_;  // filled once the end phase starts
};

// The paper's loop: every backend takes one turn per round, in identity order.
void fill_equal(std::vector<Permutation>& perms, std::vector<uint32_t>& slots, uint32_t table_size,
                MaglevTable::Probe probe) {
  SlotFiller filler(perms, slots, table_size, probe);
  std::vector<uint32_t> round(perms.size());
  std::iota(round.begin(), round.end(), 0u);
  while (!filler.full()) filler.take_turns(round);
}

// Stride scheduling: the k-th turn of backend i is due at (2k+1) / (2 w_i); turns due at
// the same time go in identity order. Backends of equal weight are due together, so the
// schedule is kept per weight: a heap of weight groups, and at each due time the turns of
// every group due then, merged in identity order (groups due together: weights whose
// ratio is odd/odd, like 1 and 3 at 1/2). One heap step per group and due time instead
// of one per turn: 1000 backends of weights 1-10 make 10 groups.
void fill_weighted(std::vector<Permutation>& perms, std::vector<uint32_t>& slots, uint32_t table_size,
                   MaglevTable::Probe probe) {
  struct Group {
    uint64_t numerator = 1;  // 2k+1: the group's next turn is due at numerator / (2 weight)
    uint32_t weight = 0;
    std::vector<uint32_t> members;  // perm indices, ascending (identity order)
  };
  std::vector<Group> groups;
  {
    std::vector<uint32_t> by_weight(perms.size());
    std::iota(by_weight.begin(), by_weight.end(), 0u);
    std::stable_sort(by_weight.begin(), by_weight.end(),
                     [&](uint32_t a, uint32_t b) { return perms[a].weight < perms[b].weight; });
    for (const uint32_t perm : by_weight) {
      if (groups.empty() || groups.back().weight != perms[perm].weight) groups.push_back({1, perms[perm].weight, {}});
      groups.back().members.push_back(perm);
    }
  }
  // a due later than b  <=>  a.numerator / a.weight > b.numerator / b.weight. No overflow:
  // numerator <= 2M+1 < 2^25 and weight <= kMaxMaglevWeight = 2^24.
  const auto compare = [&](uint32_t a, uint32_t b) {
    const uint64_t lhs = groups[a].numerator * groups[b].weight, rhs = groups[b].numerator * groups[a].weight;
    return lhs < rhs ? -1 : lhs > rhs ? 1 : 0;
  };
  const auto later = [&](uint32_t a, uint32_t b) { return compare(a, b) > 0; };
  std::vector<uint32_t> heap(groups.size());
  std::iota(heap.begin(), heap.end(), 0u);
  std::make_heap(heap.begin(), heap.end(), later);
  SlotFiller filler(perms, slots, table_size, probe);
  std::vector<uint32_t> due_now, merged;
  while (!filler.full()) {
    due_now.clear();
    do {
      std::pop_heap(heap.begin(), heap.end(), later);
      due_now.push_back(heap.back());
      heap.pop_back();
    } while (!heap.empty() && compare(heap.front(), due_now.front()) == 0);
    if (due_now.size() == 1) {
      filler.take_turns(groups[due_now[0]].members);
    } else {
      merged.clear();
      for (const uint32_t group : due_now) {
        const auto middle = merged.insert(merged.end(), groups[group].members.begin(), groups[group].members.end());
        std::inplace_merge(merged.begin(), middle, merged.end());
      }
      filler.take_turns(merged);
    }
    for (const uint32_t group : due_now) {
      groups[group].numerator += 2;
      heap.push_back(group);
      std::push_heap(heap.begin(), heap.end(), later);
    }
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
  // Identity order decides the turn order. Sorting 1000 19-byte arrays compares bytes
  // one by one (a fifth of the 1000-backend build); three integers in big-endian order
  // sort the same way several times faster. Offset and skip come from two independent
  // hashes of the key (the paper's h1, h2), reduced without a division.
  const Modulus offsets(table_size), skips(std::max(table_size - 1, 1u));
  std::vector<Identity> identities;
  identities.reserve(backends.size());
  for (uint32_t i = 0; i < backends.size(); ++i) {
    if (backends[i].endpoint.address.family == abi::AddressFamily::kNone) {
      return make_error("backend {} has no address", i);
    }
    if (backends[i].weight > kMaxMaglevWeight) {
      return make_error("backend {} weight {} exceeds the maximum {}", backends[i].endpoint.to_string(),
                        backends[i].weight, kMaxMaglevWeight);
    }
    const MaglevKey key = maglev_key(backends[i].endpoint);
    Identity& identity = identities.emplace_back(Identity::of(key, i));
    identity.offset = offsets.of(XXH64(key.data(), key.size(), kMaglevOffsetSeed));
    identity.skip = table_size == 1 ? 1 : skips.of(XXH64(key.data(), key.size(), kMaglevSkipSeed)) + 1;
  }
  std::sort(identities.begin(), identities.end());
  std::vector<Permutation> perms;
  perms.reserve(identities.size());
  for (size_t i = 0; i < identities.size(); ++i) {
    if (i > 0 && identities[i].same_key(identities[i - 1])) {
      return make_error("duplicate backend {}", backends[identities[i].index].endpoint.to_string());
    }
    Permutation& p = perms.emplace_back();
    p.original_index = identities[i].index;
    p.weight = backends[identities[i].index].weight;
    p.offset = identities[i].offset;
    p.skip = identities[i].skip;
  }
  std::erase_if(perms, [](const Permutation& p) { return p.weight == 0; });
  if (perms.size() > table_size) {
    return make_error("{} weighted backends do not fit a table of {} slots", perms.size(), table_size);
  }

  MaglevTable table;
  table.slots_.assign(table_size, abi::kNoBackend);
  if (perms.empty()) return table;
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
