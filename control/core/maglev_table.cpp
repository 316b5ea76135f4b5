// Maglev population (NSDI 2016, §3.4, Pseudocode 1) with weighted turns.
#include "control/core/maglev_table.h"

#include <xxhash.h>

#include <algorithm>
#include <numeric>
#include <queue>

#include "control/core/prime.h"

namespace eclb::ctl {
namespace {

struct Permutation {
  uint32_t original_index;  // position in the caller's span
  uint32_t weight;
  uint32_t next;  // next candidate slot: (offset + j * skip) mod M
  uint32_t skip;
  MaglevKey key;
};

// Claims the next free slot of permutation p. M is prime and 1 <= skip < M, so the
// sequence visits every slot and the loop ends while any slot is free.
inline void take_turn(Permutation& p, std::vector<uint32_t>& slots, uint32_t table_size, uint32_t value) {
  uint32_t candidate = p.next;
  while (slots[candidate] != abi::kNoBackend) {
    candidate += p.skip;
    if (candidate >= table_size) candidate -= table_size;
  }
  slots[candidate] = value;
  candidate += p.skip;
  if (candidate >= table_size) candidate -= table_size;
  p.next = candidate;
}

// The paper's loop: every backend takes one turn per round, in identity order.
void fill_equal(std::vector<Permutation>& perms, std::vector<uint32_t>& slots, uint32_t table_size) {
  uint32_t filled = 0;
  for (;;) {
    for (Permutation& p : perms) {
      take_turn(p, slots, table_size, p.original_index);
      if (++filled == table_size) return;
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
    // a later than b  <=>  a.numerator / a.weight > b.numerator / b.weight (no overflow:
    // numerator <= 2^25, weight < 2^32).
    const unsigned __int128 lhs = static_cast<unsigned __int128>(a.numerator) * b.weight;
    const unsigned __int128 rhs = static_cast<unsigned __int128>(b.numerator) * a.weight;
    if (lhs != rhs) return lhs > rhs;
    return a.perm > b.perm;
  };
  std::vector<Due> heap;
  heap.reserve(perms.size());
  for (uint32_t i = 0; i < perms.size(); ++i) heap.push_back({1, perms[i].weight, i});
  std::priority_queue<Due, std::vector<Due>, decltype(later)> queue(later, std::move(heap));
  for (uint32_t filled = 0; filled < table_size; ++filled) {
    Due due = queue.top();
    queue.pop();
    Permutation& p = perms[due.perm];
    take_turn(p, slots, table_size, p.original_index);
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
    perms.push_back({i, backends[i].weight, 0, 0, maglev_key(backends[i].endpoint)});
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
    p.next = static_cast<uint32_t>(XXH64(p.key.data(), p.key.size(), kMaglevOffsetSeed) % table_size);
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
