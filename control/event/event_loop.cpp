// epoll reactor with a timer queue.
#include "control/event/event_loop.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace eclb::ctl {

EventLoop::EventLoop() : epoll_fd_(epoll_create1(EPOLL_CLOEXEC)) {}

EventLoop::~EventLoop() {
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

namespace {

uint64_t event_data(int fd, uint32_t tag) { return uint64_t{tag} << 32 | static_cast<uint32_t>(fd); }

}  // namespace

Result<void> EventLoop::watch(int fd, uint32_t events, FdCallback callback) {
  const uint32_t tag = next_tag_++;
  epoll_event event{};
  event.events = events;
  event.data.u64 = event_data(fd, tag);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    return make_error("epoll_ctl add {}: {}", fd, std::strerror(errno));
  }
  fds_[fd] = Watch{tag, std::move(callback)};
  return success();
}

Result<void> EventLoop::modify(int fd, uint32_t events) {
  const auto it = fds_.find(fd);
  if (it == fds_.end()) return make_error("epoll_ctl mod {}: not watched", fd);
  epoll_event event{};
  event.events = events;
  event.data.u64 = event_data(fd, it->second.tag);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event) != 0) {
    return make_error("epoll_ctl mod {}: {}", fd, std::strerror(errno));
  }
  return success();
}

void EventLoop::unwatch(int fd) noexcept {
  if (fds_.erase(fd) != 0) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

EventLoop::TimerId EventLoop::after(std::chrono::milliseconds delay, TimerCallback callback) {
  const TimerId id = next_timer_++;
  const auto when = Clock::now() + delay;
  timers_.emplace(when, id);
  timer_callbacks_.emplace(id, std::make_pair(when, std::move(callback)));
  return id;
}

void EventLoop::cancel(TimerId id) noexcept {
  const auto it = timer_callbacks_.find(id);
  if (it == timer_callbacks_.end()) return;
  const auto range = timers_.equal_range(it->second.first);
  for (auto t = range.first; t != range.second; ++t) {
    if (t->second == id) {
      timers_.erase(t);
      break;
    }
  }
  timer_callbacks_.erase(it);
}

void EventLoop::run() {
  running_ = true;
  std::vector<epoll_event> events(256);
  while (running_) {
    int timeout_ms = 1000;
    if (!timers_.empty()) {
      const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(timers_.begin()->first - Clock::now());
      timeout_ms = static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(wait.count() + 1, 1000)));
    }
    const int ready = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout_ms);
    for (int i = 0; i < ready && running_; ++i) {
      const int fd = static_cast<int>(static_cast<uint32_t>(events[i].data.u64));
      const auto tag = static_cast<uint32_t>(events[i].data.u64 >> 32);
      const auto it = fds_.find(fd);
      // Removed by an earlier callback of this round, or closed and its number watched
      // again since: the event is the old descriptor's.
      if (it == fds_.end() || it->second.tag != tag) continue;
      FdCallback callback = it->second.callback;  // the callback may unwatch itself
      callback(events[i].events);
    }
    const auto now = Clock::now();
    while (running_ && !timers_.empty() && timers_.begin()->first <= now) {
      const TimerId id = timers_.begin()->second;
      timers_.erase(timers_.begin());
      auto it = timer_callbacks_.find(id);
      if (it == timer_callbacks_.end()) continue;
      TimerCallback callback = std::move(it->second.second);
      timer_callbacks_.erase(it);
      callback();
    }
  }
}

}  // namespace eclb::ctl
