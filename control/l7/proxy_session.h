// ProxySession: one client connection of the L7 proxy, from accept to close.
//
//   accept -> [TLS handshake] -> request head -> route -> connect gateway -> relay
//                                     \-> 301 / 4xx / 5xx answered, then close
//
// Every readiness event on either socket runs pump(), which makes all the progress it
// can in both directions and then re-arms epoll for what is blocked. Bytes read from one
// side are written straight to the other from a shared scratch buffer; only what the
// other side would not take yet is kept, and reading from that side pauses until it is
// flushed, so an idle connection holds no relay buffer at all.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "control/core/table_content.h"
#include "control/event/event_loop.h"
#include "control/l7/l7_listener.h"

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
  enum class Io { kProgress, kBlocked, kEof, kError };

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

  // Client side, TLS or plain. Read: bytes into `out`. Write: bytes taken from `data`.
  Io client_read(char* out, size_t capacity, size_t& got);
  Io client_write(const char* data, size_t size, size_t& sent);
  Io backend_read(char* out, size_t capacity, size_t& got);
  static Io plain_read(int fd, char* out, size_t capacity, size_t& got, uint32_t& want);
  static Io plain_write(int fd, const char* data, size_t size, size_t& sent, uint32_t& want);
  Io backend_write(const char* data, size_t size, size_t& sent);
  // Moves bytes from one side to the other until blocked. false: the session finished.
  bool move_to_backend();
  bool move_to_client();
  // Writes `pending` to one side and drops what was sent.
  Io flush(std::string& pending, bool to_client);

  ProxyContext& context_;
  std::shared_ptr<const L7Listener> listener_;
  L7Counters& counters_;
  Phase phase_ = Phase::kHandshake;
  int client_fd_;
  int backend_fd_ = -1;
  SSL* ssl_ = nullptr;
  Endpoint client_;
  std::string head_;        // client bytes read before routing
  std::string to_backend_;  // bytes the gateway has not taken yet
  std::string to_client_;   // bytes the client has not taken yet
  bool client_eof_ = false;     // the client sent FIN (or close_notify)
  bool client_closed_ = false;  // TLS read or write failed (EOF, reset): send no close_notify
  bool backend_eof_ = false;
  bool backend_shut_ = false;   // FIN sent to the gateway
  bool backend_watched_ = false;
  // What the blocked calls of this pump wait for (a TLS read can need the socket
  // writable, and a TLS write readable); epoll is re-armed with exactly that.
  uint32_t client_want_ = 0;
  uint32_t backend_want_ = 0;
  uint32_t client_events_ = 0;
  uint32_t backend_events_ = 0;
  EventLoop::TimerId phase_timer_ = 0;  // handshake/head, then connect
  EventLoop::TimerId idle_timer_ = 0;
  // Fairness: a direction moves at most kChunksPerTurn reads per pump, then the session
  // yields and a zero-delay timer pumps it again (TLS may hold decrypted bytes that no
  // socket event would announce).
  static constexpr int kChunksPerTurn = 8;
  bool yielded_ = false;
  EventLoop::TimerId resume_timer_ = 0;
  EventLoop::Clock::time_point last_activity_;
};

}  // namespace eclb::ctl
