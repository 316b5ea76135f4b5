// ServiceWatchdog: feeds systemd only while every worker loop advances.
#include "dataplane/runtime/service_watchdog.h"

#include "common/log.h"

namespace eclb::dp {

ServiceWatchdog::ServiceWatchdog(std::chrono::microseconds period, std::function<void()> feed,
                                 std::vector<const std::atomic<uint64_t>*> worker_ticks)
    : period_ms_(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(period).count())),
      feed_(std::move(feed)) {
  for (const std::atomic<uint64_t>* ticks : worker_ticks) workers_.push_back({ticks});
}

void ServiceWatchdog::tick(uint64_t now_ms) {
  if (!started_) {
    for (Watched& worker : workers_) {
      worker.last_ticks = worker.ticks->load(std::memory_order_relaxed);
      worker.moved_ms = now_ms;
    }
    started_ = true;
  }
  size_t stalled_worker = workers_.size();
  for (size_t w = 0; w < workers_.size(); ++w) {
    Watched& worker = workers_[w];
    const uint64_t ticks = worker.ticks->load(std::memory_order_relaxed);
    if (ticks != worker.last_ticks) {
      worker.last_ticks = ticks;
      worker.moved_ms = now_ms;
    } else if (now_ms - worker.moved_ms >= kStallMs && stalled_worker == workers_.size()) {
      stalled_worker = w;
    }
  }
  const bool stalled = stalled_worker != workers_.size();
  if (stalled && !stalled_) {
    log::error("dp.runtime", "worker {} has not gone round its loop for {} ms: no longer feeding the service watchdog",
               stalled_worker, now_ms - workers_[stalled_worker].moved_ms);
  } else if (!stalled && stalled_) {
    log::info("dp.runtime", "every worker goes round its loop again: feeding the service watchdog");
  }
  stalled_ = stalled;
  if (period_ms_ == 0 || stalled_) return;
  if (fed_ms_ == 0 || now_ms - fed_ms_ >= period_ms_) {
    feed_();
    fed_ms_ = now_ms;
  }
}

}  // namespace eclb::dp
