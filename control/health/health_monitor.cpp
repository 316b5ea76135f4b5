// Check scheduling with jitter and rise/fall accounting.
#include "control/health/health_monitor.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace eclb::ctl {

std::string_view to_string(Health health) { return health == Health::kUp ? "up" : "down"; }

HealthMonitor::HealthMonitor(EventLoop& loop, ChangeFn on_change)
    : loop_(loop), on_change_(std::move(on_change)), tls_(SSL_CTX_new(TLS_client_method())) {
  if (tls_ != nullptr) {
    SSL_CTX_set_min_proto_version(tls_, TLS1_2_VERSION);
    SSL_CTX_set_verify(tls_, SSL_VERIFY_NONE, nullptr);  // backends are addressed by IP
  }
}

HealthMonitor::~HealthMonitor() {
  *alive_ = false;
  for (auto& [key, entry] : entries_) {
    if (entry.timer != 0) loop_.cancel(entry.timer);
    if (entry.passive_timer != 0) loop_.cancel(entry.passive_timer);
  }
  if (tls_ != nullptr) SSL_CTX_free(tls_);
}

void HealthMonitor::configure(const std::vector<PoolConfig>& pools) {
  ++generation_;
  for (const PoolConfig& pool : pools) {
    for (const BackendConfig& backend : pool.backends) {
      const Key key{pool.name, backend.endpoint};
      auto [it, added] = entries_.try_emplace(key);
      Entry& entry = it->second;
      entry.generation = generation_;
      const bool check_changed = entry.health.check.kind != pool.health.kind ||
                                 entry.health.check.interval_ms != pool.health.interval_ms;
      entry.health.pool = pool.name;
      entry.health.backend = backend;
      entry.health.check = pool.health;
      if (pool.health.kind == HealthCheckConfig::Kind::kNone) {
        if (entry.timer != 0) loop_.cancel(entry.timer);
        entry.timer = 0;
        if (!entry.health.passive) entry.health.state = Health::kUp;  // unchecked backends are up
        continue;
      }
      if (added || check_changed || (entry.timer == 0 && !entry.in_flight)) {
        if (entry.timer != 0) loop_.cancel(entry.timer);
        // The first check somewhere within one interval: checks of many backends spread out.
        std::uniform_int_distribution<uint32_t> first(0, pool.health.interval_ms);
        schedule(key, std::chrono::milliseconds(first(random_)));
      }
    }
  }
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.generation != generation_) {
      if (it->second.timer != 0) loop_.cancel(it->second.timer);
      if (it->second.passive_timer != 0) loop_.cancel(it->second.passive_timer);
      it = entries_.erase(it);  // an in-flight probe for it reports into nothing
    } else {
      ++it;
    }
  }
}

void HealthMonitor::schedule(const Key& key, std::chrono::milliseconds delay) {
  Entry& entry = entries_.at(key);
  entry.timer = loop_.after(delay, [this, key] {
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    it->second.timer = 0;
    run_check(key);
  });
}

void HealthMonitor::run_check(const Key& key) {
  Entry& entry = entries_.at(key);
  entry.in_flight = true;
  ++checks_run_;
  const uint32_t interval = entry.health.check.interval_ms;
  std::uniform_int_distribution<int32_t> jitter(-static_cast<int32_t>(interval / 10), static_cast<int32_t>(interval / 10));
  schedule(key, std::chrono::milliseconds(static_cast<int64_t>(interval) + jitter(random_)));
  std::weak_ptr<bool> alive = alive_;
  Probe::start(loop_, tls_, entry.health.check, entry.health.backend.endpoint, [this, key, alive](const ProbeResult& result) {
    const auto guard = alive.lock();
    if (!guard || !*guard) return;
    on_result(key, result);
  });
}

void HealthMonitor::on_result(const Key& key, const ProbeResult& result) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;  // removed while the probe ran
  Entry& entry = it->second;
  BackendHealth& health = entry.health;
  entry.in_flight = false;
  health.checked = true;
  ++health.checks;
  health.last = result;
  health.last_check = std::chrono::system_clock::now();
  if (result.ok) {
    ++health.successes;
    health.failures = 0;
  } else {
    ++health.failures;
    health.successes = 0;
  }
  if (health.passive) {
    // Down because connections were refused: a passing check is enough to come back
    // (nginx puts it back on the first success too); failing checks take over.
    if (result.ok) {
      set_state(entry, Health::kUp);
    } else if (health.failures >= health.check.fall) {
      health.passive = false;  // down by the checks now: the passive timeout no longer applies
    }
    return;
  }
  if (health.state == Health::kUp && health.failures >= health.check.fall) set_state(entry, Health::kDown);
  if (health.state == Health::kDown && health.successes >= health.check.rise) set_state(entry, Health::kUp);
}

void HealthMonitor::set_state(Entry& entry, Health state) {
  BackendHealth& health = entry.health;
  if (state == Health::kUp) {
    health.passive = false;
    entry.recent_failures.clear();
    if (entry.passive_timer != 0) loop_.cancel(std::exchange(entry.passive_timer, 0));
  }
  const Health before = health.state;
  health.state = state;
  if (state != before) on_change_(health, before);
}

void HealthMonitor::passive_failure(const std::string& pool, const Endpoint& backend) {
  const Key key{pool, backend};
  const auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Entry& entry = it->second;
  BackendHealth& health = entry.health;
  ++health.passive_failures;
  if (health.check.max_fails == 0 || health.state == Health::kDown) return;
  const auto now = loop_.now();
  const auto window = std::chrono::milliseconds(health.check.fail_timeout_ms);
  std::erase_if(entry.recent_failures, [&](const auto& at) { return now - at > window; });
  entry.recent_failures.push_back(now);
  if (entry.recent_failures.size() < health.check.max_fails) return;
  health.passive = true;
  health.last.detail = fmt::format("{} connection(s) refused within {} ms", entry.recent_failures.size(),
                                   health.check.fail_timeout_ms);
  set_state(entry, Health::kDown);
  entry.passive_timer = loop_.after(window, [this, key] {
    const auto found = entries_.find(key);
    if (found == entries_.end()) return;
    found->second.passive_timer = 0;
    // fail_timeout over: back for new flows, unless the checks have taken it down since.
    if (found->second.health.passive) set_state(found->second, Health::kUp);
  });
}

Health HealthMonitor::state(const std::string& pool, const Endpoint& backend) const {
  const auto it = entries_.find({pool, backend});
  return it == entries_.end() ? Health::kUp : it->second.health.state;
}

std::string HealthMonitor::unsettled(const std::string& pool) const {
  for (const auto& [key, entry] : entries_) {
    const BackendHealth& health = entry.health;
    if (std::get<0>(key) != pool || health.check.kind == HealthCheckConfig::Kind::kNone) continue;
    if (health.checks == 0) return fmt::format("{} not checked yet", health.backend.name);
    if (health.state == Health::kDown && !health.passive && health.successes > 0) {
      return fmt::format("{} rising", health.backend.name);
    }
    if (health.state == Health::kUp && health.failures > 0) return fmt::format("{} falling", health.backend.name);
  }
  return {};
}

std::vector<BackendHealth> HealthMonitor::snapshot() const {
  std::vector<BackendHealth> out;
  out.reserve(entries_.size());
  for (const auto& [key, entry] : entries_) out.push_back(entry.health);
  return out;
}

}  // namespace eclb::ctl
