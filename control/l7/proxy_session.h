// ProxySession: one client connection of the L7 proxy, from accept to close.
//
//   accept -> [TLS handshake] -> request head -> route -> connect gateway -> exchange
//                                     |                        |               |
//                                     |         refused/timed out: the next    +-> 101 to a
//                                     |         gateway of the Maglev order        WebSocket
//                                     |         (unpinned, before any byte)        upgrade:
//                                     \-> 301 / 4xx / 5xx answered, then close      tunnel
//                     ^                                                                |
//                     \-------- response complete, keep-alive: the next request <------/
//
// The exchange is framed, not blind: exactly the request's bytes go to the gateway
// (http_message.h), and the client's bytes after them are held; the response is read
// as a message, its head held until complete (a gateway that closes mid-head gets the
// client a 502). Only a 101 answering a WebSocket upgrade turns the connection into a
// tunnel that relays bytes as they are (relay.h), the held bytes first. Any other
// response is delivered, and then the connection (HTTP keep-alive, as nginx keeps it)
// goes back to reading a request head, the held bytes first: whatever a client sent
// after a refused upgrade is parsed, routed and given forwarding headers as a request of
// its own, never relayed raw to the gateway that refused.
// Every readiness event on either socket runs pump(), which makes all the progress it can
// and then re-arms epoll for what is blocked. Each side's I/O, plain or TLS, is a
// Transport (transport.h).
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "control/core/table_content.h"
#include "control/event/event_loop.h"
#include "control/l7/http_message.h"
#include "control/l7/l7_listener.h"
#include "control/l7/l7_router.h"
#include "control/l7/transport.h"

namespace eclb::ctl {

class ProxySession;

// What sessions share: owned by the proxy thread.
struct ProxyContext {
  EventLoop& loop;
  L7Config limits;
  std::function<std::shared_ptr<const TableContent>()> tables;  // the last published
  std::function<void(ProxySession*)> retire;  // deletes a finished session, later
  // A gateway refused a connection, did not accept it in time, or reset a request it
  // never answered (passive health, as nginx counts proxy_next_upstream errors).
  std::function<void(const std::string& vip, const Endpoint& gateway)> connect_failed;
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

  // Tries of a gateway per unpinned request (nginx: proxy_next_upstream error timeout,
  // which also retries a request whose gateway failed before answering unless its method
  // is POST, LOCK or PATCH).
  static constexpr size_t kConnectTries = 3;
  // Client bytes held after the request while its answer is awaited (an upgrade's first
  // frames); reading from the client pauses at this much.
  static constexpr size_t kHeldLimit = 65536;
  // Requests per client connection (nginx: keepalive_requests 1000).
  static constexpr uint32_t kRequestsPerConnection = 1000;

 private:
  enum class Phase { kHandshake, kHead, kConnecting, kExchange, kTunnel, kRespond, kDone };

  void pump();
  void handshake();
  void read_head();
  void on_head();
  void connect_backend();
  void backend_connected(uint32_t events);
  void connect_failed(const std::string& why, bool timed_out);
  // The gateway reset or closed the connection (`why`). Before any byte of its answer,
  // an unpinned request nginx would retry goes to the next gateway; otherwise the client
  // gets a 502, or (answer under way) the connection closes.
  void upstream_failed(std::string_view why);
  void exchange();
  bool send_request();
  bool receive_response();
  void start_tunnel(std::string_view after_head);
  void next_request();
  void relay();
  void on_client_event(uint32_t events);
  void on_backend_event(uint32_t events);
  void respond(int status, std::string_view reason, std::string_view body, std::string_view extra_headers = {});
  void close_backend();
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
  RequestParser request_;
  std::optional<ResponseParser> response_;
  std::string after_head_;  // client bytes read with the head, past it (body, or more)
  RouteDecision route_;
  std::vector<Endpoint> tried_;  // gateways that refused this request
  std::string upstream_;    // the request as the gateway gets it (kept for another try)
  // A copy of upstream_ while the gateway has the request but has not answered: sent
  // again to the next gateway if this one fails first (a whole idempotent request only).
  std::string replay_;
  std::string held_;        // client bytes after the request: a tunnel's, or the next request's
  std::string pending_;     // held bytes, parsed first as the next request's head
  std::string response_head_;  // the gateway's answer until its head is complete
  std::string to_backend_;  // bytes the gateway has not taken yet
  std::string to_client_;   // bytes the client has not taken yet
  bool response_started_ = false;  // a byte of the gateway's answer went to the client
  bool keep_alive_ = false;        // the client connection takes another request after this one
  uint32_t requests_ = 0;          // on this connection, the current one included
  bool backend_shut_ = false;      // FIN sent to the gateway
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
