// systemd's watchdog for eclb-dataplane (WatchdogSec in eclb-dataplane.service). It is
// fed from the control lcore's loop, and only while every worker's loop also goes round
// (each worker counts its 1 ms ticks): a worker stuck in a PMD or a spin gets the process
// restarted just as a stuck control loop does. The flow region survives the restart.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

namespace eclb::dp {

class ServiceWatchdog {
 public:
  // A worker whose tick count has not moved for this long is stalled.
  static constexpr uint64_t kStallMs = 1000;

  // `period`: how often to feed (half of WatchdogSec; zero: never). `feed` sends one
  // keep-alive. `worker_ticks` outlive this object (WorkerLaunch::ticks).
  ServiceWatchdog(std::chrono::microseconds period, std::function<void()> feed,
                  std::vector<const std::atomic<uint64_t>*> worker_ticks);

  // Control lcore, on its 100 ms tick. Feeds when a period has passed and no worker is
  // stalled; logs a stall once when it starts and once when it ends.
  void tick(uint64_t now_ms);

  bool stalled() const noexcept { return stalled_; }

 private:
  struct Watched {
    const std::atomic<uint64_t>* ticks;
    uint64_t last_ticks = 0;
    uint64_t moved_ms = 0;
  };
  uint64_t period_ms_;
  std::function<void()> feed_;
  std::vector<Watched> workers_;
  uint64_t fed_ms_ = 0;
  bool started_ = false;
  bool stalled_ = false;
};

}  // namespace eclb::dp
