// OperatorOverrides: what operators changed at run time through the admin socket —
// drained backends and weight overrides, possibly ramping linearly from one weight to
// another over a duration. Keyed by (pool, backend endpoint); survives reloads for
// backends that stay. Time is passed in, so ramps are testable.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>

#include "common/ip_address.h"

namespace eclb::ctl {

class OperatorOverrides {
 public:
  using Clock = std::chrono::steady_clock;
  using Key = std::tuple<std::string, Endpoint>;

  void drain(const Key& key, bool drained) { entries_[key].drained = drained; }
  bool drained(const Key& key) const;

  // Sets the weight now (ramp zero) or moves it linearly from its current value to
  // `weight` over `ramp`.
  void set_weight(const Key& key, uint32_t configured, uint32_t weight, std::chrono::milliseconds ramp,
                  Clock::time_point now);
  // The weight in force at `now`: the configured one unless overridden.
  uint32_t weight(const Key& key, uint32_t configured, Clock::time_point now) const;
  // True while some ramp has not reached its target.
  bool ramping(Clock::time_point now) const;

  // Forgets overrides of backends not in `keep`.
  template <typename Predicate>
  void retain(Predicate keep) {
    std::erase_if(entries_, [&](const auto& item) { return !keep(item.first); });
  }

 private:
  struct Entry {
    bool drained = false;
    std::optional<uint32_t> from;
    std::optional<uint32_t> to;
    Clock::time_point start;
    std::chrono::milliseconds ramp{0};
  };
  std::map<Key, Entry> entries_;
};

}  // namespace eclb::ctl
