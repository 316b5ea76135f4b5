// NatPortHints: one worker's view of which local ports of each fullnat address its NAT
// table holds, one bit per port, so that allocation finds a port no flow holds by
// scanning 64 ports per word instead of probing the NAT table port by port (a run of
// long-lived connections after a restart or a wrap of the range cost one probe each, and
// a bounded number of probes then refused new flows while ports were free).
// A hint, not the truth: a port is taken only after FlowTable::claim found no live entry
// for the exact reply key, so a wrong bit costs a probe, never a wrong mapping. The bits
// follow the table through a sweep (Worker::sweep_nat) that rebuilds them from the live
// entries, one pass at a time: a port whose entry expired shows free at the latest two
// passes later. Owner lcore only; noexcept; the storage is the caller's.
#pragma once

#include <cstdint>
#include <cstring>

#include "abi/flow_hash.h"

namespace eclb::dp {

class NatPortHints {
 public:
  static constexpr uint32_t kMaxAddresses = 16;
  static constexpr uint32_t kWords = 65536 / 64;            // one bit per port number
  static constexpr uint32_t kWordsPerAddress = 2 * kWords;  // held, and the pass being rebuilt
  static constexpr uint8_t kNone = 0xFF;

  NatPortHints() = default;
  // `storage`: kMaxAddresses * kWordsPerAddress words, zeroed, owned by the caller.
  explicit NatPortHints(uint64_t* storage) noexcept : storage_(storage) {}

  bool enabled() const noexcept { return storage_ != nullptr; }

  // The slot of an address (16 bytes, IPv4 in the first 4), added if new; kNone if the
  // hints have no storage or all slots are taken (that address is then probed only).
  uint8_t add_address(abi::AddressFamily family, const uint8_t* address) noexcept {
    const uint8_t found = find(family, address);
    if (found != kNone || storage_ == nullptr || count_ == kMaxAddresses) return found;
    families_[count_] = family;
    std::memcpy(addresses_[count_], address, 16);
    return count_++;
  }
  uint8_t find(abi::AddressFamily family, const uint8_t* address) const noexcept {
    const size_t bytes = family == abi::AddressFamily::kIpv6 ? 16 : 4;
    for (uint8_t slot = 0; slot < count_; ++slot) {
      if (families_[slot] == family && std::memcmp(addresses_[slot], address, bytes) == 0) return slot;
    }
    return kNone;
  }

  // `port` of `slot` is held from now on (also for the pass being rebuilt).
  void mark(uint8_t slot, uint16_t port) noexcept {
    held(slot)[port / 64] |= bit(port);
    building(slot)[port / 64] |= bit(port);
  }
  bool is_held(uint8_t slot, uint16_t port) const noexcept { return (held(slot)[port / 64] & bit(port)) != 0; }

  enum class Verdict : uint8_t { kNext, kTake, kStop };
  // Calls try_port(port) -> Verdict for the ports of [first, last] whose bit is clear,
  // from `from` on and wrapping once, until it says kTake (that port is returned) or
  // kStop (-1); reads at most one word per 64 ports. -1 when no clear port is left.
  template <typename TryPort>
  int32_t find_clear(uint8_t slot, uint16_t first, uint16_t last, uint16_t from, TryPort&& try_port) const noexcept {
    const uint64_t* words = held(slot);
    if (from < first || from > last) from = first;
    // Two sweeps of the word range: [from, last], then [first, from).
    for (int round = 0; round < 2; ++round) {
      const uint32_t low = round == 0 ? from : first;
      const uint32_t high = round == 0 ? last : uint32_t{from} - 1;
      if (round == 1 && from == first) break;
      for (uint32_t word = low / 64; word <= high / 64; ++word) {
        uint64_t clear = ~words[word];
        if (word == low / 64) clear &= ~uint64_t{0} << (low % 64);
        if (word == high / 64 && high % 64 != 63) clear &= (uint64_t{1} << (high % 64 + 1)) - 1;
        while (clear != 0) {
          const auto port = static_cast<uint16_t>(word * 64 + static_cast<uint32_t>(__builtin_ctzll(clear)));
          clear &= clear - 1;
          const Verdict verdict = try_port(port);
          if (verdict == Verdict::kTake) return port;
          if (verdict == Verdict::kStop) return -1;
        }
      }
    }
    return -1;
  }

  // The sweep saw a live entry of `slot` holding `port`.
  void seen(uint8_t slot, uint16_t port) noexcept { building(slot)[port / 64] |= bit(port); }
  // The sweep finished a pass over the whole table: what it saw becomes the hint.
  void end_pass() noexcept {
    for (uint8_t slot = 0; slot < count_; ++slot) {
      std::memcpy(held(slot), building(slot), kWords * sizeof(uint64_t));
      std::memset(building(slot), 0, kWords * sizeof(uint64_t));
    }
  }

  uint32_t held_ports(uint8_t slot) const noexcept {
    uint32_t total = 0;
    for (uint32_t word = 0; word < kWords; ++word) total += static_cast<uint32_t>(__builtin_popcountll(held(slot)[word]));
    return total;
  }
  uint8_t addresses() const noexcept { return count_; }

  // Where the next allocation from `slot` starts: just after the last port taken, so
  // consecutive connections take consecutive ports and a port is reused as late as can be.
  uint16_t cursor(uint8_t slot) const noexcept { return cursors_[slot]; }
  void set_cursor(uint8_t slot, uint16_t port) noexcept { cursors_[slot] = port; }

 private:
  static uint64_t bit(uint16_t port) noexcept { return uint64_t{1} << (port % 64); }
  uint64_t* held(uint8_t slot) const noexcept { return storage_ + size_t{slot} * kWordsPerAddress; }
  uint64_t* building(uint8_t slot) const noexcept { return held(slot) + kWords; }

  uint64_t* storage_ = nullptr;
  uint8_t count_ = 0;
  abi::AddressFamily families_[kMaxAddresses] = {};
  uint8_t addresses_[kMaxAddresses][16] = {};
  uint16_t cursors_[kMaxAddresses] = {};
};

}  // namespace eclb::dp
