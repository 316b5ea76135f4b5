// MaglevTable: weighted Maglev consistent hashing (Eisenbud et al., NSDI 2016, §3.4).
// Built by eclb-control for every VIP from its up members; the dataplane only reads the
// result through the table region. The table is a pure function of the set of
// (identity, weight) pairs and M: never of input order, process or host.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"

namespace eclb::ctl {

struct MaglevBackend {
  Endpoint endpoint;  // the identity: address and port
  uint32_t weight = 1;
};

// Identity bytes hashed for offset and skip: family (4 or 6), the 16 address bytes
// (IPv4 in the first 4, rest zero), the port big-endian. 19 bytes.
using MaglevKey = std::array<uint8_t, 19>;
MaglevKey maglev_key(const Endpoint& endpoint) noexcept;

// Seeds of the two XXH64 hashes (offset, skip). Changing either changes every table on
// every host: the golden digest test pins them.
inline constexpr uint64_t kMaglevOffsetSeed = 0x6563'6c62'2d6f'6666ULL;  // "eclb-off"
inline constexpr uint64_t kMaglevSkipSeed = 0x6563'6c62'2d73'6b70ULL;    // "eclb-skp"

inline constexpr uint32_t kMaxMaglevWeight = 1u << 24;

class MaglevTable {
 public:
  enum class Fill { kAuto, kWeighted };  // kWeighted forces the general path (tests)
  enum class Probe { kAuto, kScalar };   // kScalar forces the one-slot-at-a-time probe (tests)

  // Populates a table of `table_size` slots. Each slot holds an index into `backends`,
  // or abi::kNoBackend when no backend has a positive weight (empty set, all weights
  // zero: a documented empty table, every lookup finds no backend).
  // Errors: table_size not prime or above abi::kMaxTableSize; duplicate identities; a
  // weight above kMaxMaglevWeight; more weighted backends than slots.
  // Weighted turns use stride scheduling: backend i takes its k-th turn at virtual time
  // (2k+1)/(2 w_i), ties broken by identity order, so over the whole fill every backend
  // takes turns in proportion to its weight and each turn claims exactly one slot.
  // Cost: O(M log M) probes (the paper's loop); mixed weights add a heap step per
  // distinct weight and due time (backends of equal weight take their turns together).
  static Result<MaglevTable> build(std::span<const MaglevBackend> backends, uint32_t table_size,
                                   Fill fill = Fill::kAuto, Probe probe = Probe::kAuto);

  uint32_t size() const noexcept { return static_cast<uint32_t>(slots_.size()); }
  std::span<const uint32_t> slots() const noexcept { return slots_; }
  uint32_t lookup(uint64_t flow_hash) const noexcept { return slots_[flow_hash % slots_.size()]; }
  // Slots owned by each of the `backend_count` input backends.
  std::vector<uint32_t> slot_counts(size_t backend_count) const;

 private:
  std::vector<uint32_t> slots_;
};

}  // namespace eclb::ctl
