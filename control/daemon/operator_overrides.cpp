// Drains and weight ramps.
#include "control/daemon/operator_overrides.h"

#include <cmath>

namespace eclb::ctl {

bool OperatorOverrides::drained(const Key& key) const {
  const auto it = entries_.find(key);
  return it != entries_.end() && it->second.drained;
}

void OperatorOverrides::set_weight(const Key& key, uint32_t configured, uint32_t weight, std::chrono::milliseconds ramp,
                                   Clock::time_point now) {
  const uint32_t current = this->weight(key, configured, now);
  Entry& entry = entries_[key];
  entry.from = current;
  entry.to = weight;
  entry.start = now;
  entry.ramp = ramp;
}

uint32_t OperatorOverrides::weight(const Key& key, uint32_t configured, Clock::time_point now) const {
  const auto it = entries_.find(key);
  if (it == entries_.end() || !it->second.to) return configured;
  const Entry& entry = it->second;
  if (entry.ramp.count() <= 0 || now >= entry.start + entry.ramp) return *entry.to;
  const double progress = std::chrono::duration<double>(now - entry.start) / entry.ramp;
  const double value = *entry.from + (static_cast<double>(*entry.to) - *entry.from) * progress;
  return static_cast<uint32_t>(std::lround(value));
}

bool OperatorOverrides::ramping(Clock::time_point now) const {
  for (const auto& [key, entry] : entries_) {
    if (entry.to && entry.ramp.count() > 0 && now < entry.start + entry.ramp) return true;
  }
  return false;
}

}  // namespace eclb::ctl
