// ProxySession: one client connection of the L7 proxy, from accept to close.
//
//   accept -> [TLS handshake] -> request head -> route -> connect gateway -> relay
//                                     \-> 301 / 4xx / 5xx answered, then close
//
// Every readiness event on either socket runs pump(), which makes all the progress it
// can and then re-arms epoll for what is blocked. This file is the request's phases;
// each side's I/O (plain or TLS) is a Transport (transport.h), and the relay moves bytes
// the same way in both directions (relay.h).
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "control/core/table_content.h"
#include "control/event/event_loop.h"
#include "control/l7/l7_listener.h"
#include "control/l7/transport.h"

namespace eclb::ctl {

class ProxySession;

struct HeadParse;
struct RequestHead;
struct RouteDecision;

// What sessions share: owned by the proxy thread.
struct ProxyContext {
  EventLoop& loop;
  L7Config limits;
  std::function<std::shared_ptr<const TableContent>()> tables;  // the last published
  std::function<void(ProxySession*)> retire;  // deletes a finished session, later
  std::string scratch = std::string(16384, '\0');  // one TLS record
};

class ProxySession {
 public:
  ProxySession(ProxyContext& context, std::shared_ptr<const L7Listener> listener, int client_fd, Endpoint client);
  ~ProxySession();
  ProxySession(const ProxySession&) = delete;
  ProxySession& operator=(const ProxySession&) = delete;

  // Registers with the loop and starts; the session retires itself when done.
  void start();
  // Closes at once (proxy shutdown).
  void abort() { finish(); }

 private:
  enum class Phase { kHandshake, kHead, kConnecting, kRelay, kRespond, kDone };

  void pump();
  void handshake();
  void read_head();
  void on_head(const HeadParse& parse);
  void connect_backend(const RouteDecision& decision, const RequestHead& head, size_t head_bytes);
  void backend_connected();
  void on_client_event(uint32_t events);
  void on_backend_event(uint32_t events);
  void relay();
  void respond(int status, std::string_view reason, std::string_view body, std::string_view extra_headers = {});
  void rearm();
  void finish();
  void touch() { last_activity_ = context_.loop.now(); }
  void arm_idle_timer(std::chrono::milliseconds delay);

  ProxyContext& context_;
  std::shared_ptr<const L7Listener> listener_;
  L7Counters& counters_;
  Phase phase_ = Phase::kHandshake;
  Transport client_;        // TLS or plain; its descriptor is ours from accept
  Transport backend_;       // plain; fd -1 until routed
  Endpoint peer_;           // the client's address
  std::string head_;        // client bytes read before routing
  std::string to_backend_;  // bytes the gateway has not taken yet
  std::string to_client_;   // bytes the client has not taken yet
  bool backend_shut_ = false;   // FIN sent to the gateway
  bool backend_watched_ = false;
  // The events epoll watches on each socket now; rearm() moves them to what the blocked
  // calls of this pump want.
  uint32_t client_events_ = 0;
  uint32_t backend_events_ = 0;
  EventLoop::TimerId phase_timer_ = 0;  // handshake/head, then connect
  EventLoop::TimerId idle_timer_ = 0;
  // Fairness: a direction moves at most kChunksPerTurn reads per pump (relay.h), then the
  // session yields and a zero-delay timer pumps it again (TLS may hold decrypted bytes
  // that no socket event would announce).
  bool yielded_ = false;
  EventLoop::TimerId resume_timer_ = 0;
  EventLoop::Clock::time_point last_activity_;
};

}  // namespace eclb::ctl
