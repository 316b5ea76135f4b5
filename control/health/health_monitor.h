// HealthMonitor: runs every pool's checks on the EventLoop — each backend probed every
// interval with ±10% jitter so checks never synchronise — and applies rise/fall. It
// reports transitions through a callback and never writes tables (the daemon does).
// A backend starts up (traffic flows from the first publish) and leaves after `fall`
// failed checks in a row; a down backend returns after `rise` good ones. Passive health:
// connections the L7 proxy could not open count too (passive_failure): `max_fails` of
// them within `fail_timeout_ms` take a backend down for that long, or until an active
// check passes (nginx's max_fails / fail_timeout).
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "config/config.h"
#include "control/event/event_loop.h"
#include "control/health/probe.h"

namespace eclb::ctl {

enum class Health : uint8_t { kUp, kDown };
std::string_view to_string(Health health);

struct BackendHealth {
  std::string pool;
  BackendConfig backend;
  HealthCheckConfig check;
  Health state = Health::kUp;
  uint32_t successes = 0;  // in a row
  uint32_t failures = 0;   // in a row
  uint64_t checks = 0;
  bool checked = false;
  bool passive = false;          // down because of refused connections, not checks
  uint64_t passive_failures = 0;  // refused connections reported so far
  ProbeResult last;
  std::chrono::system_clock::time_point last_check;
};

class HealthMonitor {
 public:
  using Key = std::tuple<std::string, Endpoint>;  // pool, backend
  using ChangeFn = std::function<void(const BackendHealth& backend, Health from)>;

  HealthMonitor(EventLoop& loop, ChangeFn on_change);
  ~HealthMonitor();

  // (Re)configures the checked set from the pools; backends that stay keep their state
  // and schedule, new ones start up, removed ones stop being checked.
  void configure(const std::vector<PoolConfig>& pools);
  Health state(const std::string& pool, const Endpoint& backend) const;
  // The L7 proxy could not connect to `backend` of `pool`.
  void passive_failure(const std::string& pool, const Endpoint& backend);
  std::vector<BackendHealth> snapshot() const;
  // A backend of `pool` whose state is not settled, described ("vm2 rising", "vm1 not
  // checked yet"); empty when every one is: checked at least once since it was
  // configured, and not on its way up (down, some good checks short of rise) or down
  // (up, some failed checks short of fall). Unchecked pools (check none) are settled.
  std::string unsettled(const std::string& pool) const;
  uint64_t checks_run() const noexcept { return checks_run_; }

 private:
  struct Entry {
    BackendHealth health;
    EventLoop::TimerId timer = 0;
    uint64_t generation = 0;  // configure() round that last saw it
    bool in_flight = false;
    std::vector<EventLoop::Clock::time_point> recent_failures;  // passive, within fail_timeout
    EventLoop::TimerId passive_timer = 0;
  };

  void schedule(const Key& key, std::chrono::milliseconds delay);
  void run_check(const Key& key);
  void on_result(const Key& key, const ProbeResult& result);
  void set_state(Entry& entry, Health state);

  EventLoop& loop_;
  ChangeFn on_change_;
  SSL_CTX* tls_ = nullptr;
  std::map<Key, Entry> entries_;
  std::mt19937 random_{std::random_device{}()};
  uint64_t generation_ = 0;
  uint64_t checks_run_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // guards probe callbacks after destruction
};

}  // namespace eclb::ctl
