// Probe: one health check of one backend in flight on the EventLoop — a TCP connect,
// an HTTP(S) GET that must answer the expected status, or a WebSocket upgrade (optionally
// over TLS) that must answer 101 with the right Sec-WebSocket-Accept. Non-blocking
// throughout; bounded by the check's timeout. Reports once, then deletes itself.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <functional>
#include <string>

#include "common/ip_address.h"
#include "config/config.h"
#include "control/event/event_loop.h"

namespace eclb::ctl {

struct ProbeResult {
  bool ok = false;
  std::chrono::microseconds latency{0};
  std::string detail;  // "ok", "connection refused", "status 503", "timeout", ...
};

class Probe {
 public:
  using Done = std::function<void(const ProbeResult&)>;

  // Starts a check; `done` runs exactly once, on the loop. `tls` is the client context
  // for https / wss checks (certificates are not verified: backends are addressed by IP).
  static void start(EventLoop& loop, SSL_CTX* tls, const HealthCheckConfig& check, const Endpoint& backend,
                    Done done);

  // The Sec-WebSocket-Accept a server must answer to `key` (RFC 6455 4.2.2).
  static std::string websocket_accept(const std::string& key);

 private:
  enum class Stage { kConnecting, kHandshake, kSending, kReading };

  Probe(EventLoop& loop, SSL_CTX* tls, const HealthCheckConfig& check, const Endpoint& backend, Done done);
  ~Probe();
  void begin();
  void on_event(uint32_t events);
  void after_connect();
  void drive_tls_handshake();
  void send_request();
  void read_response();
  bool evaluate(std::string& detail) const;
  void finish(bool ok, std::string detail);
  void want(uint32_t events);

  EventLoop& loop_;
  SSL_CTX* tls_context_;
  HealthCheckConfig check_;
  Endpoint backend_;
  Done done_;
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  Stage stage_ = Stage::kConnecting;
  EventLoop::TimerId timer_ = 0;
  EventLoop::Clock::time_point started_;
  std::string request_;
  size_t sent_ = 0;
  std::string response_;
  std::string websocket_key_;
  bool finished_ = false;
};

}  // namespace eclb::ctl
