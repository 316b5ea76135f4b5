// Blocking HTTP GET with a deadline (see http_get.h).
#include "control/cli/http_get.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "common/owned_fd.h"

namespace eclb::ctl::cli {
namespace {

// Waits until `fd` is ready for `events` or the deadline passes.
Result<void> wait(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return make_error("timed out");
    pollfd ready{fd, events, 0};
    const int polled = poll(&ready, 1, static_cast<int>(left.count()));
    if (polled > 0) return success();
    if (polled < 0 && errno != EINTR) return make_error("poll: {}", std::strerror(errno));
  }
}

}  // namespace

Result<std::string> http_get(const Endpoint& server, const std::string& path, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  sockaddr_storage address{};
  socklen_t length = 0;
  if (server.address.is_v6()) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(server.port);
    std::memcpy(&v6->sin6_addr, server.address.bytes.data(), 16);
    length = sizeof *v6;
  } else {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(server.port);
    std::memcpy(&v4->sin_addr, server.address.bytes.data(), 4);
    length = sizeof *v4;
  }
  const OwnedFd sock(socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) return make_error("socket: {}", std::strerror(errno));
  if (connect(sock.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 && errno != EINPROGRESS) {
    return make_error("connect: {}", std::strerror(errno));
  }
  if (auto ready = wait(sock.get(), POLLOUT, deadline); !ready) return std::move(ready).error();
  int error = 0;
  socklen_t error_length = sizeof error;
  getsockopt(sock.get(), SOL_SOCKET, SO_ERROR, &error, &error_length);
  if (error != 0) return make_error("connect: {}", std::strerror(error));
  const std::string request = fmt::format("GET {} HTTP/1.0\r\nHost: {}\r\n\r\n", path, server.to_string());
  for (size_t sent = 0; sent < request.size();) {
    if (auto ready = wait(sock.get(), POLLOUT, deadline); !ready) return std::move(ready).error();
    const ssize_t n = send(sock.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return make_error("send: {}", std::strerror(errno));
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::string answer;
  char chunk[16384];
  while (true) {
    if (auto ready = wait(sock.get(), POLLIN, deadline); !ready) return std::move(ready).error();
    const ssize_t n = recv(sock.get(), chunk, sizeof chunk, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return make_error("recv: {}", std::strerror(errno));
    }
    answer.append(chunk, static_cast<size_t>(n));
    if (answer.size() > (64u << 20)) return make_error("answer too large");
  }
  const size_t head_end = answer.find("\r\n\r\n");
  if (head_end == std::string::npos || (answer.compare(0, 9, "HTTP/1.1 ") != 0 && answer.compare(0, 9, "HTTP/1.0 ") != 0)) {
    return make_error("not an HTTP answer");
  }
  if (answer.compare(9, 3, "200") != 0) return make_error("answered {}", answer.substr(9, answer.find("\r\n") - 9));
  return answer.substr(head_end + 4);
}

}  // namespace eclb::ctl::cli
