// One L7 client connection: TLS, request head, routing, relay (see proxy_session.h).
#include "control/l7/proxy_session.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "control/l7/http_head.h"
#include "control/l7/l7_router.h"
#include "control/l7/proxy_protocol.h"
#include "control/l7/relay.h"

namespace eclb::ctl {
namespace {

constexpr uint32_t kFailureEvents = EPOLLHUP | EPOLLERR;

bool would_block(int error) { return error == EAGAIN || error == EWOULDBLOCK || error == EINTR; }

}  // namespace

ProxySession::ProxySession(ProxyContext& context, std::shared_ptr<const L7Listener> listener, int client_fd,
                           Endpoint client)
    : context_(context),
      listener_(std::move(listener)),
      counters_(*listener_->counters),
      peer_(client) {
  client_.fd = client_fd;
  L7Counters::add(counters_.active);
}

ProxySession::~ProxySession() { finish(); }

void ProxySession::start() {
  touch();
  phase_ = listener_->tls ? Phase::kHandshake : Phase::kHead;
  client_events_ = EPOLLIN;
  if (!context_.loop.watch(client_.fd, client_events_, [this](uint32_t events) { on_client_event(events); })) {
    finish();
    return;
  }
  phase_timer_ = context_.loop.after(std::chrono::milliseconds(context_.limits.handshake_timeout_ms), [this] {
    phase_timer_ = 0;
    L7Counters::add(counters_.handshake_timeout);
    finish();
  });
}

void ProxySession::on_client_event(uint32_t events) {
  pump();
  // Hang-up or error on the client: nobody is left to answer. Stop here rather than
  // spin on an event that level-triggered epoll would report again and again.
  if ((events & kFailureEvents) != 0 && phase_ != Phase::kDone) {
    if (phase_ == Phase::kRelay) L7Counters::add(counters_.client_reset);
    finish();
  }
}

void ProxySession::on_backend_event(uint32_t events) {
  if (phase_ == Phase::kConnecting) {
    backend_connected();
  }
  pump();
  if ((events & kFailureEvents) != 0 && phase_ != Phase::kDone && backend_watched_) {
    // The gateway closed both ways. What it sent was read above; flush it to the
    // client, but stop watching a socket that would report the hang-up forever.
    if (phase_ == Phase::kRelay && backend_.eof) {
      context_.loop.unwatch(backend_.fd);
      backend_watched_ = false;
    } else if (phase_ == Phase::kRelay) {
      L7Counters::add(counters_.upstream_reset);
      finish();
    }
  }
}

void ProxySession::pump() {
  client_.want = 0;
  backend_.want = 0;
  yielded_ = false;
  for (Phase before = Phase::kDone; phase_ != before && phase_ != Phase::kDone;) {
    before = phase_;
    switch (phase_) {
      case Phase::kHandshake: handshake(); break;
      case Phase::kHead: read_head(); break;
      case Phase::kConnecting: backend_.want |= EPOLLOUT; break;
      case Phase::kRelay: relay(); break;
      case Phase::kRespond:
        if (client_.flush(to_client_) != Io::kBlocked) finish();
        break;
      case Phase::kDone: break;
    }
  }
  if (phase_ == Phase::kDone) return;
  rearm();
  if (yielded_ && resume_timer_ == 0) {
    resume_timer_ = context_.loop.after(std::chrono::milliseconds(0), [this] {
      resume_timer_ = 0;
      pump();
    });
  }
}

void ProxySession::handshake() {
  if (client_.ssl == nullptr) {
    // A TLS connection starts with a handshake record (0x16). Letters mean someone
    // speaks plain HTTP to the TLS port: tell them, as nginx does, instead of a TLS alert.
    char first = 0;
    const ssize_t peeked = recv(client_.fd, &first, 1, MSG_PEEK);
    if (peeked == 0) return finish();
    if (peeked < 0) {
      if (would_block(errno)) client_.want |= EPOLLIN;
      else finish();
      return;
    }
    if (first >= 'A' && first <= 'Z') {
      L7Counters::add(counters_.plaintext_on_tls);
      return respond(400, "Bad Request", "eclb: plain HTTP request sent to the HTTPS port\n");
    }
    client_.ssl = listener_->tls->new_connection(client_.fd);
    if (client_.ssl == nullptr) return finish();
  }
  ERR_clear_error();
  const int rc = SSL_do_handshake(client_.ssl);
  if (rc == 1) {
    phase_ = Phase::kHead;
    return;
  }
  switch (SSL_get_error(client_.ssl, rc)) {
    case SSL_ERROR_WANT_READ: client_.want |= EPOLLIN; return;
    case SSL_ERROR_WANT_WRITE: client_.want |= EPOLLOUT; return;
    default:
      L7Counters::add(counters_.tls_handshake_failed);
      SSL_free(client_.ssl);  // no close_notify after a failed handshake
      client_.ssl = nullptr;
      finish();
  }
}

void ProxySession::read_head() {
  const size_t limit = context_.limits.max_header_bytes;
  while (true) {
    const size_t room = std::min(context_.scratch.size(), limit + 1 - std::min(head_.size(), limit));
    size_t got = 0;
    switch (client_.read(context_.scratch.data(), room, got)) {
      case Io::kProgress: break;
      case Io::kBlocked: return;
      case Io::kEof:
      case Io::kError: return finish();  // gone before asking anything
    }
    head_.append(context_.scratch.data(), got);
    const HeadParse parse = parse_request_head(head_, limit);
    if (parse.status != HeadParse::Status::kIncomplete) return on_head(parse);
  }
}

void ProxySession::on_head(const HeadParse& parse) {
  if (phase_timer_ != 0) context_.loop.cancel(std::exchange(phase_timer_, 0));
  if (parse.status == HeadParse::Status::kTooLarge) {
    L7Counters::add(counters_.header_too_large);
    return respond(431, "Request Header Fields Too Large", "eclb: request head too large\n");
  }
  if (parse.status == HeadParse::Status::kBad) {
    L7Counters::add(counters_.bad_request);
    return respond(400, "Bad Request", fmt::format("eclb: {}\n", parse.error));
  }
  const RequestHead& head = parse.head;
  if (listener_->kind == L7Listener::Kind::kRedirect) {
    // The image: return 301 https://$DNS_NAME$request_uri.
    std::string host = listener_->settings.redirect_host;
    if (host.empty()) {
      const std::string* requested = head.find("Host");
      host = requested != nullptr && !requested->empty() ? std::string(host_without_port(*requested))
                                                        : listener_->vip.address.to_string();
    }
    if (listener_->vip.port != 443) host += fmt::format(":{}", listener_->vip.port);
    L7Counters::add(counters_.redirected);
    return respond(301, "Moved Permanently", "", fmt::format("Location: https://{}{}\r\n", host, head.target));
  }
  const std::shared_ptr<const TableContent> tables = context_.tables();
  const RouteDecision decision = route_request(tables.get(), listener_->vip_name, peer_, listener_->vip, head);
  if (decision.status != 0) {
    L7Counters::add(decision.status == 502 ? counters_.pin_unknown
                    : decision.pinned      ? counters_.pin_unavailable
                                           : counters_.no_backend);
    return respond(decision.status, decision.status == 502 ? "Bad Gateway" : "Service Unavailable", decision.error);
  }
  L7Counters::add(decision.pinned ? counters_.pinned : counters_.routed);
  connect_backend(decision, head, parse.head_bytes);
}

void ProxySession::connect_backend(const RouteDecision& decision, const RequestHead& head, size_t head_bytes) {
  const bool v6 = decision.backend.address.is_v6();
  backend_.fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (backend_.fd < 0) {
    L7Counters::add(counters_.upstream_connect_failed);
    return respond(502, "Bad Gateway", fmt::format("eclb: cannot open a socket: {}\n", std::strerror(errno)));
  }
  const int one = 1;
  setsockopt(backend_.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_storage address{};
  const socklen_t length = to_sockaddr(decision.backend, address);
  if (connect(backend_.fd, reinterpret_cast<sockaddr*>(&address), length) != 0 && errno != EINPROGRESS) {
    L7Counters::add(counters_.upstream_connect_failed);
    return respond(502, "Bad Gateway",
                   fmt::format("eclb: gateway {} ({}): {}\n", decision.backend_name, decision.backend.to_string(),
                               std::strerror(errno)));
  }
  backend_events_ = EPOLLOUT;
  if (!context_.loop.watch(backend_.fd, backend_events_, [this](uint32_t events) { on_backend_event(events); })) {
    return finish();
  }
  backend_watched_ = true;
  if (listener_->settings.proxy_protocol) to_backend_ = proxy_protocol_v2(peer_, listener_->vip);
  to_backend_ += render_upstream_head(head, {peer_.address.to_string(), listener_->tls != nullptr, decision.target});
  to_backend_.append(head_, head_bytes);  // body bytes that came with the head
  std::string().swap(head_);
  phase_ = Phase::kConnecting;
  phase_timer_ = context_.loop.after(std::chrono::milliseconds(context_.limits.connect_timeout_ms),
                                     [this, name = decision.backend_name] {
                                       phase_timer_ = 0;
                                       L7Counters::add(counters_.upstream_timeout);
                                       respond(504, "Gateway Timeout", fmt::format("eclb: gateway {} did not answer\n", name));
                                       pump();
                                     });
}

void ProxySession::backend_connected() {
  int error = 0;
  socklen_t length = sizeof error;
  getsockopt(backend_.fd, SOL_SOCKET, SO_ERROR, &error, &length);
  if (error == EINPROGRESS) return;
  if (phase_timer_ != 0) context_.loop.cancel(std::exchange(phase_timer_, 0));
  if (error != 0) {
    L7Counters::add(counters_.upstream_connect_failed);
    return respond(502, "Bad Gateway", fmt::format("eclb: gateway connection failed: {}\n", std::strerror(error)));
  }
  phase_ = Phase::kRelay;
  touch();
  arm_idle_timer(std::chrono::seconds(context_.limits.idle_timeout_s));
}

void ProxySession::relay() {
  size_t moved = 0;
  // Client -> gateway; then the client's half-close passed on once its bytes are.
  switch (relay_once(client_, backend_, to_backend_, context_.scratch, counters_.bytes_from_clients, moved)) {
    case RelayOutcome::kWaiting: break;
    case RelayOutcome::kYielded: yielded_ = true; break;
    case RelayOutcome::kSourceFailed: L7Counters::add(counters_.client_reset); return finish();
    case RelayOutcome::kSinkFailed: L7Counters::add(counters_.upstream_reset); return finish();
  }
  if (client_.eof && to_backend_.empty() && !backend_shut_ && !backend_.eof) {
    shutdown(backend_.fd, SHUT_WR);
    backend_shut_ = true;
  }
  // Gateway -> client.
  switch (relay_once(backend_, client_, to_client_, context_.scratch, counters_.bytes_to_clients, moved)) {
    case RelayOutcome::kWaiting: break;
    case RelayOutcome::kYielded: yielded_ = true; break;
    case RelayOutcome::kSourceFailed: L7Counters::add(counters_.upstream_reset); return finish();
    case RelayOutcome::kSinkFailed: L7Counters::add(counters_.client_reset); return finish();
  }
  if (moved != 0) touch();
  // The gateway is done and everything it said was delivered: the exchange is over.
  if (backend_.eof && to_client_.empty()) finish();
}

void ProxySession::respond(int status, std::string_view reason, std::string_view body, std::string_view extra_headers) {
  if (backend_.fd >= 0) {
    if (backend_watched_) context_.loop.unwatch(backend_.fd);
    close(backend_.fd);
    backend_.fd = -1;
    backend_watched_ = false;
  }
  std::string().swap(to_backend_);
  to_client_ = render_response(status, reason, body, extra_headers);
  phase_ = Phase::kRespond;
  // A client that never reads its answer must not hold the connection forever.
  if (phase_timer_ != 0) context_.loop.cancel(phase_timer_);
  phase_timer_ = context_.loop.after(std::chrono::milliseconds(context_.limits.handshake_timeout_ms), [this] {
    phase_timer_ = 0;
    finish();
  });
}

void ProxySession::arm_idle_timer(std::chrono::milliseconds delay) {
  // One timer per connection, re-armed for the remainder when it fires early: activity
  // only stores a timestamp, it never touches the timer queue.
  idle_timer_ = context_.loop.after(delay, [this] {
    idle_timer_ = 0;
    const auto idle = std::chrono::seconds(context_.limits.idle_timeout_s);
    const auto quiet = context_.loop.now() - last_activity_;
    if (quiet >= idle) {
      L7Counters::add(counters_.idle_timeout);
      return finish();
    }
    arm_idle_timer(std::chrono::duration_cast<std::chrono::milliseconds>(idle - quiet) + std::chrono::milliseconds(1));
  });
}

void ProxySession::rearm() {
  // Never ask for input from a side whose end was already read: level-triggered epoll
  // would report it readable forever.
  if (client_.eof) client_.want &= ~static_cast<uint32_t>(EPOLLIN);
  if (backend_.eof) backend_.want &= ~static_cast<uint32_t>(EPOLLIN);
  if (client_.want != client_events_ && context_.loop.modify(client_.fd, client_.want)) client_events_ = client_.want;
  if (backend_watched_ && backend_.want != backend_events_ && context_.loop.modify(backend_.fd, backend_.want)) {
    backend_events_ = backend_.want;
  }
}

void ProxySession::finish() {
  if (phase_ == Phase::kDone) return;
  phase_ = Phase::kDone;
  if (phase_timer_ != 0) context_.loop.cancel(std::exchange(phase_timer_, 0));
  if (idle_timer_ != 0) context_.loop.cancel(std::exchange(idle_timer_, 0));
  if (resume_timer_ != 0) context_.loop.cancel(std::exchange(resume_timer_, 0));
  if (client_.ssl != nullptr) {
    // close_notify, best effort, to a client still there: after its EOF or an I/O error
    // the write would only fail (as nginx, which skips it too), and after a fatal
    // error OpenSSL forbids SSL_shutdown.
    if (SSL_is_init_finished(client_.ssl) && !client_.failed) {
      ERR_clear_error();
      SSL_shutdown(client_.ssl);
    }
    SSL_free(client_.ssl);
    client_.ssl = nullptr;
  }
  context_.loop.forget(client_.fd);  // close() takes it out of the epoll set
  close(client_.fd);
  if (backend_.fd >= 0) {
    if (backend_watched_) context_.loop.forget(backend_.fd);
    close(backend_.fd);
    backend_.fd = -1;
  }
  counters_.active.fetch_sub(1, std::memory_order_relaxed);
  context_.retire(this);
}

}  // namespace eclb::ctl
