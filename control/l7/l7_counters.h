// Counters of the L7 proxy per VIP. The proxy threads add (relaxed atomic increments, no
// lock: a VIP's connections are spread over every proxy thread); eclb-control's thread
// reads them for /metrics and `eclbctl` status.
#pragma once

#include <atomic>
#include <cstdint>

namespace eclb::ctl {

#define ECLB_L7_COUNTERS(X)                                                                    \
  X(accepted, "client connections accepted")                                                   \
  X(refused, "client connections closed at once: l7.max_connections reached")                \
  X(tls_handshake_failed, "TLS handshakes that failed (garbage, plaintext, bad client)")       \
  X(plaintext_on_tls, "plain HTTP sent to a TLS port (answered 400)")                           \
  X(handshake_timeout, "connections closed before a complete request head in time")          \
  X(bad_request, "requests answered 400 (unparsable head)")                                   \
  X(header_too_large, "requests answered 431 (head over l7.max_header_bytes)")                 \
  X(redirected, "requests answered 301 to https")                                              \
  X(routed, "requests relayed by the Maglev table")                                            \
  X(pinned, "requests relayed to a pinned gateway")                                            \
  X(pin_unknown, "pins to a gateway the VIP does not have (502)")                              \
  X(pin_unavailable, "pins to a gateway that is down or drained (503)")                        \
  X(no_backend, "requests with no healthy gateway (503)")                                      \
  X(upstream_connect_failed, "gateway connections refused or failed (502)")                    \
  X(upstream_timeout, "gateway connections not established in l7.connect_timeout_ms (504)")    \
  X(upstream_retried, "requests sent on to the next gateway (refused, or reset unanswered)")    \
  X(upstream_reset, "relayed connections the gateway reset or dropped mid-stream")             \
  X(client_reset, "relayed connections the client reset or dropped mid-stream")                \
  X(idle_timeout, "connections closed after l7.idle_timeout_s without a byte")                 \
  X(bytes_from_clients, "bytes relayed from clients to gateways (after TLS)")                  \
  X(bytes_to_clients, "bytes relayed from gateways to clients (before TLS)")

struct L7Counters {
#define ECLB_L7_FIELD(name, help) std::atomic<uint64_t> name{0};
  ECLB_L7_COUNTERS(ECLB_L7_FIELD)
#undef ECLB_L7_FIELD
  std::atomic<uint64_t> active{0};  // open client connections (a gauge)

  static void add(std::atomic<uint64_t>& counter, uint64_t value = 1) noexcept {
    counter.fetch_add(value, std::memory_order_relaxed);
  }
};

}  // namespace eclb::ctl
