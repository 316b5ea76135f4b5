// Reading and writing one side of a proxied connection (see transport.h).
#include "control/l7/transport.h"

#include <openssl/err.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>

namespace eclb::ctl {
namespace {

bool would_block(int error) { return error == EAGAIN || error == EWOULDBLOCK || error == EINTR; }

}  // namespace

Io Transport::read(char* out, size_t capacity, size_t& got) {
  if (ssl == nullptr) {
    const ssize_t n = recv(fd, out, capacity, 0);
    if (n > 0) {
      got = static_cast<size_t>(n);
      return Io::kProgress;
    }
    if (n == 0) return Io::kEof;
    if (would_block(errno)) {
      want |= EPOLLIN;
      return Io::kBlocked;
    }
    return Io::kError;
  }
  ERR_clear_error();
  if (SSL_read_ex(ssl, out, capacity, &got) == 1) return Io::kProgress;
  switch (SSL_get_error(ssl, 0)) {
    case SSL_ERROR_WANT_READ: want |= EPOLLIN; return Io::kBlocked;
    case SSL_ERROR_WANT_WRITE: want |= EPOLLOUT; return Io::kBlocked;
    case SSL_ERROR_ZERO_RETURN: return Io::kEof;  // close_notify: it may still read (TLS 1.3 half-close)
    default: failed = true; return Io::kError;
  }
}

Io Transport::write(const char* data, size_t size, size_t& sent) {
  if (ssl == nullptr) {
    const ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n >= 0) {
      sent = static_cast<size_t>(n);
      return Io::kProgress;
    }
    sent = 0;
    if (would_block(errno)) {
      want |= EPOLLOUT;
      return Io::kBlocked;
    }
    return Io::kError;
  }
  ERR_clear_error();
  if (SSL_write_ex(ssl, data, size, &sent) == 1) return Io::kProgress;  // maybe partial: callers loop
  sent = 0;
  switch (SSL_get_error(ssl, 0)) {
    case SSL_ERROR_WANT_WRITE: want |= EPOLLOUT; return Io::kBlocked;
    case SSL_ERROR_WANT_READ: want |= EPOLLIN; return Io::kBlocked;
    default: failed = true; return Io::kError;
  }
}

Io Transport::flush(std::string& pending) {
  while (!pending.empty()) {
    size_t sent = 0;
    const Io written = write(pending.data(), pending.size(), sent);
    if (written == Io::kError || written == Io::kEof) return Io::kError;
    pending.erase(0, sent);
    if (written == Io::kBlocked) return Io::kBlocked;
  }
  std::string().swap(pending);
  return Io::kProgress;
}

}  // namespace eclb::ctl
