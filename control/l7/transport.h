// Transport: one side of a proxied connection — a non-blocking socket, with TLS when the
// client side is a TLS listener's. Reads and writes say whether they made progress, would
// block (and then which epoll events they wait for: a TLS read may need the socket
// writable), hit the peer's end, or failed. Used by ProxySession for both the client and
// the gateway side; the session owns the descriptor and the SSL object.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace eclb::ctl {

enum class Io { kProgress, kBlocked, kEof, kError };

struct Transport {
  int fd = -1;
  SSL* ssl = nullptr;   // TLS (the client side of a TLS listener), or none
  uint32_t want = 0;    // epoll events the calls that blocked since the last reset wait for
  bool eof = false;     // the peer finished sending (FIN, or TLS close_notify)
  bool failed = false;  // a TLS read or write failed (EOF, reset): no close_notify is owed

  // Bytes into `out` (`got` of them on kProgress).
  Io read(char* out, size_t capacity, size_t& got);
  // Bytes from `data` (`sent` of them, maybe fewer than `size`, on kProgress).
  Io write(const char* data, size_t size, size_t& sent);
  // Writes `pending` and drops what was sent: kProgress once all of it went (and the
  // string's memory is released: an idle connection keeps no buffer), kBlocked when the
  // peer took part, kError when writing failed or the peer is gone.
  Io flush(std::string& pending);
};

}  // namespace eclb::ctl
