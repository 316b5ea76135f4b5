// The L7 proxy's thread, listeners and hand-offs (see l7_proxy.h).
#include "control/l7/l7_proxy.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <unordered_map>

#include "common/log.h"
#include "control/event/event_loop.h"
#include "control/l7/proxy_session.h"

namespace eclb::ctl {

namespace {

// CPUs this process may run on (its affinity mask: taskset and cgroups count).
uint32_t usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return static_cast<uint32_t>(CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

struct L7Proxy::Shared {
  std::mutex mutex;
  std::vector<std::shared_ptr<const L7Listener>> listeners;
  L7Config limits;
  uint64_t version = 0;  // of listeners + limits
  std::map<std::string, std::shared_ptr<L7Counters>> counters;  // by VIP, kept over reloads
  bool stopping = false;
  // Open client connections of all threads, against l7.max_connections.
  std::atomic<uint64_t> connections{0};
  // The last publication (under the mutex) and its number. Every request of every loop
  // needs the tables: a loop compares the number with its cached copy's and takes the
  // mutex only when a new publication came, not once per request.
  std::shared_ptr<const TableContent> tables;
  std::atomic<uint64_t> tables_version{0};
  // Connect failures for eclb-control's thread (under the mutex), and the eventfd that
  // says there are some.
  std::vector<ConnectFailure> failures;
  int failure_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ~Shared() {
    if (failure_fd >= 0) close(failure_fd);
  }
};

// One event loop on its own thread. Every loop watches every listener (EPOLLEXCLUSIVE
// when there are several: a new connection wakes one idle loop, not all of them) and
// keeps the connections it accepted to the end: sessions never cross threads.
class L7Proxy::Thread {
 public:
  Thread(std::shared_ptr<Shared> shared, uint32_t index, bool exclusive)
      : shared_(std::move(shared)),
        index_(index),
        exclusive_(exclusive),
        wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
        context_{loop_, L7Config{}, [this] { return tables(); }, [this](ProxySession* session) { retire(session); },
                 [this](const std::string& vip, const Endpoint& gateway) { report_failure(vip, gateway); }} {}

  Result<void> start() {
    if (wake_fd_ < 0) return make_error("eventfd: {}", std::strerror(errno));
    if (auto watching = loop_.watch(wake_fd_, EPOLLIN, [this](uint32_t) { on_wake(); }); !watching) {
      return watching;
    }
    thread_ = std::thread([this] { loop_.run(); });
    // "eclb-l7-N" in top -H and /proc/PID/task/*/comm.
    pthread_setname_np(thread_.native_handle(), fmt::format("eclb-l7-{}", index_).c_str());
    return success();
  }

  // Makes the thread re-read the shared state (listeners, limits, stopping).
  void wake() const {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t ignored = write(wake_fd_, &one, sizeof one);
  }

  ~Thread() {
    {
      std::lock_guard lock(shared_->mutex);
      shared_->stopping = true;
    }
    wake();
    if (thread_.joinable()) thread_.join();
    if (wake_fd_ >= 0) close(wake_fd_);
  }

 private:
  std::shared_ptr<const TableContent> tables() {
    if (shared_->tables_version.load(std::memory_order_acquire) != tables_version_) {
      std::lock_guard lock(shared_->mutex);
      tables_ = shared_->tables;
      tables_version_ = shared_->tables_version.load(std::memory_order_relaxed);
    }
    return tables_;
  }

  void report_failure(const std::string& vip, const Endpoint& gateway) {
    {
      std::lock_guard lock(shared_->mutex);
      if (shared_->failures.size() < 4096) shared_->failures.push_back({vip, gateway});  // bounded: a burst is enough
    }
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t ignored = write(shared_->failure_fd, &one, sizeof one);
  }

  void on_wake() {
    uint64_t count = 0;
    [[maybe_unused]] const ssize_t ignored = read(wake_fd_, &count, sizeof count);
    std::vector<std::shared_ptr<const L7Listener>> listeners;
    bool changed = false;
    {
      std::lock_guard lock(shared_->mutex);
      if (shared_->stopping) return shutdown();
      if (shared_->version != version_) {
        version_ = shared_->version;
        listeners = shared_->listeners;
        context_.limits = shared_->limits;
        changed = true;
      }
    }
    if (changed) adopt(std::move(listeners));
  }

  // Watches the new set's sockets and lets go of the old ones that are not in it.
  void adopt(std::vector<std::shared_ptr<const L7Listener>> listeners) {
    std::unordered_map<int, Listening> next;
    for (auto& listener : listeners) {
      // What sessions keep: the listener without its socket. A session that outlives its
      // listener (a reload moved or removed the VIP) must not keep the port open: nobody
      // would accept on it, clients would hang, and binding it again would fail.
      auto for_sessions = std::make_shared<L7Listener>(*listener);
      for_sessions->socket.reset();
      next[listener->socket->get()] = Listening{listener, std::move(for_sessions)};
    }
    for (const auto& [fd, listener] : listening_) {
      if (!next.contains(fd)) loop_.unwatch(fd);
    }
    for (const auto& [fd, listener] : next) {
      loop_.unwatch(fd);  // re-watch: the callback must see the new listener (settings, certificates)
      if (auto watching = watch_listener(fd); !watching) {
        log::error("l7", "cannot watch listener listen={}: {}", listener.listener->listen.to_string(),
                   watching.error().message);
      }
    }
    listening_ = std::move(next);
  }

  Result<void> watch_listener(int fd) {
    const uint32_t events = EPOLLIN | (exclusive_ ? static_cast<uint32_t>(EPOLLEXCLUSIVE) : 0u);
    return loop_.watch(fd, events, [this, fd](uint32_t) { accept_from(fd); });
  }

  void accept_from(int listen_fd) {
    const auto found = listening_.find(listen_fd);
    if (found == listening_.end()) return;
    const std::shared_ptr<const L7Listener> listener = found->second.for_sessions;
    // Several loops: take a few per wakeup and leave the rest to the others.
    const int batch = exclusive_ ? 4 : 64;
    for (int accepted = 0; accepted < batch; ++accepted) {
      sockaddr_storage peer{};
      socklen_t length = sizeof peer;
      const int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) pause_listener(listen_fd);
        return;  // EAGAIN, or a connection that went away before accept
      }
      L7Counters::add(listener->counters->accepted);
      if (shared_->connections.fetch_add(1, std::memory_order_relaxed) >= context_.limits.max_connections) {
        shared_->connections.fetch_sub(1, std::memory_order_relaxed);
        L7Counters::add(listener->counters->refused);
        close(fd);
        continue;
      }
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto session = std::make_unique<ProxySession>(context_, listener, fd, from_sockaddr(peer));
      ProxySession* raw = session.get();
      sessions_.emplace(raw, std::move(session));
      raw->start();
    }
  }

  // Out of descriptors or memory: stop accepting for a moment rather than spin on a
  // listener that stays readable. Connections wait in the backlog meanwhile.
  void pause_listener(int listen_fd) {
    if (!paused_warned_) log::warn("l7", "accept: {}; pausing listeners for 200 ms", std::strerror(errno));
    paused_warned_ = true;
    loop_.unwatch(listen_fd);
    loop_.after(std::chrono::milliseconds(200), [this, listen_fd] {
      if (listening_.contains(listen_fd)) [[maybe_unused]] auto ignored = watch_listener(listen_fd);
    });
  }

  void retire(ProxySession* session) {
    const auto found = sessions_.find(session);
    if (found == sessions_.end()) return;
    retired_.push_back(std::move(found->second));
    sessions_.erase(found);
    shared_->connections.fetch_sub(1, std::memory_order_relaxed);
    if (!sweep_scheduled_) {
      sweep_scheduled_ = true;
      loop_.after(std::chrono::milliseconds(0), [this] {
        sweep_scheduled_ = false;
        retired_.clear();
      });
    }
  }

  void shutdown() {
    for (const auto& [fd, listener] : listening_) loop_.unwatch(fd);
    listening_.clear();
    std::vector<ProxySession*> open;
    for (const auto& [session, owned] : sessions_) open.push_back(session);
    for (ProxySession* session : open) session->abort();
    retired_.clear();
    loop_.stop();
  }

  std::shared_ptr<Shared> shared_;
  const uint32_t index_;
  const bool exclusive_;
  const int wake_fd_;  // eventfd: re-read the shared state
  std::shared_ptr<const TableContent> tables_;  // this loop's copy of shared_->tables
  uint64_t tables_version_ = 0;
  EventLoop loop_;
  ProxyContext context_;
  std::thread thread_;
  uint64_t version_ = 0;
  struct Listening {
    std::shared_ptr<const L7Listener> listener;      // owns the socket, with the shared state
    std::shared_ptr<const L7Listener> for_sessions;  // the same without the socket
  };
  std::unordered_map<int, Listening> listening_;
  std::unordered_map<ProxySession*, std::unique_ptr<ProxySession>> sessions_;
  std::vector<std::unique_ptr<ProxySession>> retired_;
  bool sweep_scheduled_ = false;
  bool paused_warned_ = false;
};

L7Proxy::L7Proxy() : shared_(std::make_shared<Shared>()) {}

L7Proxy::~L7Proxy() { threads_.clear(); }

Result<std::unique_ptr<L7Proxy>> L7Proxy::start(uint32_t threads) {
  if (threads == 0) threads = usable_cpus();
  std::unique_ptr<L7Proxy> proxy(new L7Proxy());
  for (uint32_t i = 0; i < threads; ++i) {
    auto thread = std::make_unique<Thread>(proxy->shared_, i, threads > 1);
    if (auto started = thread->start(); !started) return std::move(started).error();
    proxy->threads_.push_back(std::move(thread));
  }
  return proxy;
}

size_t L7Proxy::threads() const noexcept { return threads_.size(); }

void L7Proxy::wake_all() const {
  for (const auto& thread : threads_) thread->wake();
}

Result<void> L7Proxy::configure(const Config& config) {
  std::vector<std::shared_ptr<const L7Listener>> current;
  std::map<std::string, std::shared_ptr<L7Counters>> counters;
  {
    std::lock_guard lock(shared_->mutex);
    current = shared_->listeners;
    counters = shared_->counters;
  }
  const auto reuse = [&](const Endpoint& endpoint) -> std::shared_ptr<OwnedFd> {
    for (const auto& listener : current) {
      if (listener->listen == endpoint) return listener->socket;
    }
    return nullptr;
  };
  std::vector<std::shared_ptr<const L7Listener>> next;
  std::map<std::string, std::shared_ptr<L7Counters>> next_counters;
  for (const VipConfig& vip : config.vips) {
    if (vip.mode != abi::ForwardMode::kL7Proxy) continue;
    auto& vip_counters = next_counters[vip.name];
    vip_counters = counters.contains(vip.name) ? counters[vip.name] : std::make_shared<L7Counters>();
    std::shared_ptr<const TlsStore> tls;
    if (!vip.l7.certificates.empty()) {
      auto loaded = TlsStore::load(vip.l7.certificates, vip.l7.session_tickets);
      if (!loaded) return std::move(loaded).context(fmt::format("VIP {}", vip.name));
      tls = std::move(*loaded);
    }
    const auto add = [&](L7Listener::Kind kind, const Endpoint& listen) -> Result<void> {
      auto listener = std::make_shared<L7Listener>();
      listener->kind = kind;
      listener->vip_name = vip.name;
      listener->vip = vip.endpoint;
      listener->listen = listen;
      listener->settings = vip.l7;
      listener->tls = kind == L7Listener::Kind::kProxy ? tls : nullptr;
      listener->counters = vip_counters;
      listener->socket = reuse(listen);
      if (listener->socket == nullptr) {
        auto socket = listen_tcp_socket(listen, 4096);
        if (!socket) return std::move(socket).context(fmt::format("VIP {}", vip.name));
        listener->socket = std::move(*socket);
      }
      next.push_back(std::move(listener));
      return success();
    };
    if (auto added = add(L7Listener::Kind::kProxy, vip.endpoint); !added) return added;
    if (vip.l7.redirect_port != 0) {
      if (auto added = add(L7Listener::Kind::kRedirect, Endpoint{vip.endpoint.address, vip.l7.redirect_port}); !added) {
        return added;
      }
    }
  }
  {
    std::lock_guard lock(shared_->mutex);
    shared_->listeners = std::move(next);
    shared_->counters = std::move(next_counters);
    shared_->limits = config.l7;
    ++shared_->version;
  }
  wake_all();
  return success();
}

int L7Proxy::failure_fd() const noexcept { return shared_->failure_fd; }

std::vector<L7Proxy::ConnectFailure> L7Proxy::take_connect_failures() {
  uint64_t count = 0;
  [[maybe_unused]] const ssize_t ignored = read(shared_->failure_fd, &count, sizeof count);
  std::lock_guard lock(shared_->mutex);
  return std::exchange(shared_->failures, {});
}

void L7Proxy::set_tables(std::shared_ptr<const TableContent> tables) {
  std::lock_guard lock(shared_->mutex);
  shared_->tables = std::move(tables);
  shared_->tables_version.fetch_add(1, std::memory_order_release);
}

std::map<std::string, std::shared_ptr<const L7Counters>> L7Proxy::counters() const {
  std::lock_guard lock(shared_->mutex);
  return {shared_->counters.begin(), shared_->counters.end()};
}

bool L7Proxy::listening(const std::string& vip_name) const {
  std::lock_guard lock(shared_->mutex);
  for (const auto& listener : shared_->listeners) {
    if (listener->vip_name == vip_name && listener->kind != L7Listener::Kind::kRedirect) return true;
  }
  return false;
}

std::vector<std::string> L7Proxy::describe() const {
  std::lock_guard lock(shared_->mutex);
  std::vector<std::string> out;
  for (const auto& listener : shared_->listeners) {
    std::string certificates;
    if (listener->tls) {
      for (const auto& names : listener->tls->names()) {
        for (const auto& name : names) certificates += (certificates.empty() ? "" : ",") + name;
      }
    }
    out.push_back(fmt::format("vip={} listen={} {}", listener->vip_name, listener->listen.to_string(),
                              listener->kind == L7Listener::Kind::kRedirect ? "redirect=https"
                              : listener->tls                                 ? "tls=" + certificates
                                                                              : "tls=off"));
  }
  return out;
}

}  // namespace eclb::ctl
