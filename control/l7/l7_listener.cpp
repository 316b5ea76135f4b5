// Listening sockets of the L7 proxy (see l7_listener.h).
#include "control/l7/l7_listener.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace eclb::ctl {

Result<std::shared_ptr<OwnedFd>> listen_tcp_socket(const Endpoint& endpoint, int backlog) {
  const bool v6 = endpoint.address.is_v6();
  auto fd = std::make_shared<OwnedFd>(socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd->get() < 0) return make_error("socket: {}", std::strerror(errno));
  const int one = 1;
  setsockopt(fd->get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (v6) setsockopt(fd->get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  sockaddr_storage address{};
  const socklen_t length = to_sockaddr(endpoint, address);
  if (bind(fd->get(), reinterpret_cast<sockaddr*>(&address), length) != 0 || listen(fd->get(), backlog) != 0) {
    return make_error("cannot listen on {}: {}", endpoint.to_string(), std::strerror(errno));
  }
  return fd;
}

}  // namespace eclb::ctl
