// OwnedFd: a file descriptor closed when its owner goes (sockets of the L7 proxy, the
// BIRD control connection, eclbctl's HTTP requests).
#pragma once

#include <unistd.h>

namespace eclb {

class OwnedFd {
 public:
  explicit OwnedFd(int fd) noexcept : fd_(fd) {}
  ~OwnedFd() {
    if (fd_ >= 0) close(fd_);
  }
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

}  // namespace eclb
