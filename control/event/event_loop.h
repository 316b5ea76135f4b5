// EventLoop: eclb-control's single-threaded reactor (epoll plus a timer queue). Health
// probes, the admin socket, the metrics endpoint and signals all run on it, so no
// backend gets a thread and nothing needs a lock. Callbacks run on the loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <unordered_map>

#include "common/result.h"

namespace eclb::ctl {

class EventLoop {
 public:
  using Clock = std::chrono::steady_clock;
  using FdCallback = std::function<void(uint32_t events)>;
  using TimerCallback = std::function<void()>;
  using TimerId = uint64_t;

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Watches `fd` for `events` (EPOLLIN, EPOLLOUT, ...). The callback may remove or
  // modify any watch, including its own, and close descriptors: each watch carries a
  // number of its own in the epoll data, so an event that epoll reported for a
  // descriptor closed (and its number reused by a new watch) earlier in the same batch
  // is recognised as stale and dropped, never delivered to the new watch.
  Result<void> watch(int fd, uint32_t events, FdCallback callback);
  Result<void> modify(int fd, uint32_t events);
  void unwatch(int fd) noexcept;
  // For a descriptor about to be closed: drops the callback without the epoll_ctl call
  // (closing the last reference removes it from the epoll set by itself).
  void forget(int fd) noexcept { fds_.erase(fd); }

  TimerId after(std::chrono::milliseconds delay, TimerCallback callback);
  void cancel(TimerId id) noexcept;

  // Runs until stop() is called from a callback.
  void run();
  void stop() noexcept { running_ = false; }
  Clock::time_point now() const noexcept { return Clock::now(); }
  size_t watched() const noexcept { return fds_.size(); }

 private:
  int epoll_fd_ = -1;
  bool running_ = false;
  TimerId next_timer_ = 1;
  struct Watch {
    uint32_t tag;  // this watch's number, in the epoll data beside the descriptor
    FdCallback callback;
  };
  uint32_t next_tag_ = 1;
  std::unordered_map<int, Watch> fds_;
  std::multimap<Clock::time_point, TimerId> timers_;
  std::unordered_map<TimerId, std::pair<Clock::time_point, TimerCallback>> timer_callbacks_;
};

}  // namespace eclb::ctl
