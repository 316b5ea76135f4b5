// Non-blocking accept/read/write for small request/response protocols.
#include "control/daemon/stream_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace eclb::ctl {

StreamServer::StreamServer(EventLoop& loop, std::string delimiter, Handler handler, size_t max_request)
    : loop_(loop), delimiter_(std::move(delimiter)), handler_(std::move(handler)), max_request_(max_request) {}

StreamServer::~StreamServer() {
  for (auto& [fd, client] : clients_) {
    if (client.timer != 0) loop_.cancel(client.timer);
    loop_.unwatch(fd);
    close(fd);
  }
  if (listen_fd_ >= 0) {
    loop_.unwatch(listen_fd_);
    close(listen_fd_);
  }
  if (!unix_path_.empty()) unlink(unix_path_.c_str());
}

Result<void> StreamServer::listen_unix(const std::string& path, std::optional<gid_t> group) {
  sockaddr_un address{};
  if (path.size() >= sizeof address.sun_path) return make_error("admin socket path {} is too long", path);
  std::error_code ignored;
  const auto directory = std::filesystem::path(path).parent_path();
  if (!std::filesystem::exists(directory)) {
    std::filesystem::create_directories(directory, ignored);
    chmod(directory.c_str(), group ? 0750 : 0700);
    if (group && chown(directory.c_str(), static_cast<uid_t>(-1), *group) != 0) {
      return make_error("cannot give {} group {}: {}", directory.string(), *group, std::strerror(errno));
    }
  }
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size());
  // Someone listening there already? Then it is another eclb-control: refuse.
  const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe >= 0) {
    const bool live = connect(probe, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    close(probe);
    if (live) return make_error("admin socket {} is in use (another eclb-control?)", path);
  }
  unlink(path.c_str());
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error("socket: {}", std::strerror(errno));
  const mode_t previous = umask(0177);  // the socket file is created 0600
  const int bound = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  umask(previous);
  // chown before chmod: until both are done, only the owner can connect.
  const bool owned = bound == 0 && (!group || chown(path.c_str(), static_cast<uid_t>(-1), *group) == 0);
  if (!owned || chmod(path.c_str(), group ? 0660 : 0600) != 0 || listen(fd, 64) != 0) {
    const int error = errno;
    close(fd);
    return make_error("cannot listen on {}: {}", path, std::strerror(error));
  }
  unix_path_ = path;
  return start(fd);
}

Result<void> StreamServer::listen_tcp(const Endpoint& endpoint) {
  const bool v6 = endpoint.address.is_v6();
  const int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error("socket: {}", std::strerror(errno));
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage address{};
  const socklen_t length = to_sockaddr(endpoint, address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 || listen(fd, 64) != 0) {
    const int error = errno;
    close(fd);
    return make_error("cannot listen on {}: {}", endpoint.to_string(), std::strerror(error));
  }
  return start(fd);
}

Result<void> StreamServer::start(int fd) {
  listen_fd_ = fd;
  return loop_.watch(fd, EPOLLIN, [this](uint32_t) { accept_clients(); });
}

void StreamServer::accept_clients() {
  for (;;) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    Client& client = clients_[fd];
    client.timer = loop_.after(std::chrono::seconds(10), [this, fd] {
      auto it = clients_.find(fd);
      if (it != clients_.end()) {
        it->second.timer = 0;
        drop(fd);
      }
    });
    if (!loop_.watch(fd, EPOLLIN, [this, fd](uint32_t events) { on_client(fd, events); })) drop(fd);
  }
}

void StreamServer::on_client(int fd, uint32_t events) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  Client& client = it->second;
  if (client.out.empty()) {
    char buffer[4096];
    for (;;) {
      const ssize_t got = recv(fd, buffer, sizeof buffer, 0);
      if (got < 0 && errno == EAGAIN) break;
      if (got <= 0) return drop(fd);
      client.in.append(buffer, static_cast<size_t>(got));
      if (client.in.size() > max_request_) return drop(fd);
    }
    const size_t end = client.in.find(delimiter_);
    if (end == std::string::npos) return;  // more to come
    ++requests_;
    client.out = handler_(client.in.substr(0, end));
    if (client.out.empty()) return drop(fd);
    (void)loop_.modify(fd, EPOLLOUT);
  }
  if ((events & (EPOLLOUT | EPOLLIN)) == 0 && (events & (EPOLLERR | EPOLLHUP))) return drop(fd);
  while (client.written < client.out.size()) {
    const ssize_t sent = send(fd, client.out.data() + client.written, client.out.size() - client.written, MSG_NOSIGNAL);
    if (sent < 0 && errno == EAGAIN) return;
    if (sent <= 0) return drop(fd);
    client.written += static_cast<size_t>(sent);
  }
  drop(fd);
}

void StreamServer::drop(int fd) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  if (it->second.timer != 0) loop_.cancel(it->second.timer);
  clients_.erase(it);
  loop_.unwatch(fd);
  close(fd);
}

}  // namespace eclb::ctl
