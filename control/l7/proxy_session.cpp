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
      peer_(client),
      request_(context.limits.max_header_bytes) {
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
    if (phase_ == Phase::kTunnel || phase_ == Phase::kExchange) L7Counters::add(counters_.client_reset);
    finish();
  }
}

void ProxySession::on_backend_event(uint32_t events) {
  if (phase_ == Phase::kConnecting) backend_connected(events);
  pump();
  if ((events & kFailureEvents) == 0 || phase_ == Phase::kDone || !backend_watched_) return;
  if (backend_.eof && (phase_ == Phase::kTunnel || phase_ == Phase::kExchange)) {
    // The gateway closed both ways. What it sent was read above; deliver it to the
    // client, but stop watching a socket that would report the hang-up forever.
    context_.loop.unwatch(backend_.fd);
    backend_watched_ = false;
  } else if (phase_ == Phase::kExchange && !response_started_) {
    upstream_failed("reset the connection");
    pump();
  } else if (phase_ == Phase::kTunnel || phase_ == Phase::kExchange) {
    L7Counters::add(counters_.upstream_reset);
    finish();
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
      case Phase::kExchange: exchange(); break;
      case Phase::kTunnel: relay(); break;
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
  // The head is parsed as it arrives: a slow client costs one pass over its bytes.
  while (true) {
    std::string_view chunk;
    const std::string pending = std::move(pending_);  // what came with the last request
    pending_.clear();
    if (!pending.empty()) {
      chunk = pending;
    } else {
      size_t got = 0;
      switch (client_.read(context_.scratch.data(), context_.scratch.size(), got)) {
        case Io::kProgress: break;
        case Io::kBlocked: return;
        case Io::kEof:
        case Io::kError: return finish();  // gone before asking (anything more)
      }
      chunk = std::string_view(context_.scratch.data(), got);
    }
    const size_t taken = request_.feed(chunk);
    if (request_.state() != RequestParser::State::kHead) {
      after_head_.assign(chunk.substr(taken));
      return on_head();
    }
  }
}

void ProxySession::on_head() {
  if (phase_timer_ != 0) context_.loop.cancel(std::exchange(phase_timer_, 0));
  ++requests_;
  if (request_.state() == RequestParser::State::kTooLarge) {
    L7Counters::add(counters_.header_too_large);
    return respond(431, "Request Header Fields Too Large", "eclb: request head too large\n");
  }
  if (request_.state() == RequestParser::State::kBad) {
    L7Counters::add(counters_.bad_request);
    return respond(400, "Bad Request", fmt::format("eclb: {}\n", request_.error()));
  }
  const RequestHead& head = request_.head();
  const std::string* requested_host = head.find("Host");
  const auto host = [&] {
    return requested_host != nullptr && !requested_host->empty() ? std::string(host_without_port(*requested_host))
                                                                : listener_->vip.address.to_string();
  };
  if (listener_->kind == L7Listener::Kind::kRedirect) {
    // The image: return 301 https://$DNS_NAME$request_uri.
    std::string target_host = listener_->settings.redirect_host.empty() ? host() : listener_->settings.redirect_host;
    if (listener_->vip.port != 443) target_host += fmt::format(":{}", listener_->vip.port);
    L7Counters::add(counters_.redirected);
    return respond(301, "Moved Permanently", "", fmt::format("Location: https://{}{}\r\n", target_host, head.target));
  }
  const std::shared_ptr<const TableContent> tables = context_.tables();
  route_ = route_request(tables.get(), listener_->vip_name, peer_, listener_->vip, head);
  if (route_.status == 301) {
    // "/vm2" for the location "/vm2/", as nginx answers it.
    std::string authority = host();
    if (listener_->listen.port != (listener_->tls ? 443 : 80)) authority += fmt::format(":{}", listener_->listen.port);
    L7Counters::add(counters_.redirected);
    return respond(301, "Moved Permanently", "",
                   fmt::format("Location: {}://{}{}\r\n", listener_->tls ? "https" : "http", authority, route_.location));
  }
  if (route_.status != 0) {
    L7Counters::add(route_.status == 502 ? counters_.pin_unknown
                    : route_.pinned      ? counters_.pin_unavailable
                                         : counters_.no_backend);
    return respond(route_.status, route_.status == 502 ? "Bad Gateway" : "Service Unavailable", route_.error);
  }
  L7Counters::add(route_.pinned ? counters_.pinned : counters_.routed);
  // The request as the gateway gets it, kept whole until a gateway accepted the
  // connection: another try sends it again from the start.
  if (listener_->settings.proxy_protocol) upstream_ = proxy_protocol_v2(peer_, listener_->vip);
  upstream_ += render_upstream_head(head, {peer_.address.to_string(), listener_->tls != nullptr, route_.target});
  const size_t body = request_.state() == RequestParser::State::kBody ? request_.feed(after_head_) : 0;
  upstream_.append(after_head_, 0, body);
  held_.assign(after_head_, body);
  std::string().swap(after_head_);
  connect_backend();
}

void ProxySession::connect_backend() {
  const bool v6 = route_.backend.address.is_v6();
  backend_.fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (backend_.fd < 0) {
    L7Counters::add(counters_.upstream_connect_failed);
    return respond(502, "Bad Gateway", fmt::format("eclb: cannot open a socket: {}\n", std::strerror(errno)));
  }
  const int one = 1;
  setsockopt(backend_.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_storage address{};
  const socklen_t length = to_sockaddr(route_.backend, address);
  if (connect(backend_.fd, reinterpret_cast<sockaddr*>(&address), length) != 0 && errno != EINPROGRESS) {
    return connect_failed(std::strerror(errno), false);
  }
  backend_events_ = EPOLLOUT;
  if (!context_.loop.watch(backend_.fd, backend_events_, [this](uint32_t events) { on_backend_event(events); })) {
    return finish();
  }
  backend_watched_ = true;
  phase_ = Phase::kConnecting;
  phase_timer_ = context_.loop.after(std::chrono::milliseconds(context_.limits.connect_timeout_ms), [this] {
    phase_timer_ = 0;
    connect_failed("did not answer", true);
    pump();
  });
}

void ProxySession::backend_connected(uint32_t events) {
  // Only writability (or an error) says how the connect went.
  if ((events & (EPOLLOUT | kFailureEvents)) == 0) return;
  int error = 0;
  socklen_t length = sizeof error;
  getsockopt(backend_.fd, SOL_SOCKET, SO_ERROR, &error, &length);
  if (error == EINPROGRESS) return;
  if (error == 0 && (events & EPOLLOUT) == 0) error = ECONNRESET;  // hung up, never writable
  if (phase_timer_ != 0) context_.loop.cancel(std::exchange(phase_timer_, 0));
  if (error != 0) return connect_failed(std::strerror(error), false);
  // The whole request is in hand and nginx would send it elsewhere if this gateway fails
  // before answering: keep a copy for that.
  const std::string& method = request_.head().method;
  const bool idempotent = method != "POST" && method != "LOCK" && method != "PATCH";
  if (!route_.pinned && idempotent && request_.state() == RequestParser::State::kComplete) {
    replay_ = upstream_;
  } else {
    std::string().swap(replay_);
  }
  to_backend_ = std::move(upstream_);
  std::string().swap(upstream_);
  response_.emplace(context_.limits.max_header_bytes, method == "HEAD");
  phase_ = Phase::kExchange;
  touch();
  arm_idle_timer(std::chrono::seconds(context_.limits.idle_timeout_s));
}

void ProxySession::connect_failed(const std::string& why, bool timed_out) {
  L7Counters::add(timed_out ? counters_.upstream_timeout : counters_.upstream_connect_failed);
  if (context_.connect_failed) context_.connect_failed(listener_->vip_name, route_.backend);
  close_backend();
  tried_.push_back(route_.backend);
  // Nothing reached the gateway: an unpinned request goes on to the next gateway of the
  // Maglev order (nginx: proxy_next_upstream error timeout). A pin never moves.
  const std::string failed = route_.backend_name;
  if (!route_.pinned && tried_.size() < kConnectTries &&
      next_gateway(context_.tables().get(), listener_->vip_name, route_, tried_)) {
    L7Counters::add(counters_.upstream_retried);
    return connect_backend();
  }
  if (timed_out) {
    return respond(504, "Gateway Timeout", fmt::format("eclb: gateway {} did not answer\n", failed));
  }
  respond(502, "Bad Gateway", fmt::format("eclb: gateway {} ({}): {}\n", failed, tried_.back().to_string(), why));
}

void ProxySession::upstream_failed(std::string_view why) {
  L7Counters::add(counters_.upstream_reset);
  if (response_started_) return finish();
  // Not one byte of an answer: the gateway died or dropped the request unread (nginx:
  // "an error occurred while ... passing a request to it, or reading the response header").
  if (response_head_.empty() && !replay_.empty() && tried_.size() + 1 < kConnectTries) {
    if (context_.connect_failed) context_.connect_failed(listener_->vip_name, route_.backend);
    close_backend();
    tried_.push_back(route_.backend);
    if (next_gateway(context_.tables().get(), listener_->vip_name, route_, tried_)) {
      L7Counters::add(counters_.upstream_retried);
      upstream_ = std::move(replay_);
      std::string().swap(replay_);
      std::string().swap(to_backend_);
      if (idle_timer_ != 0) context_.loop.cancel(std::exchange(idle_timer_, 0));
      response_.reset();
      return connect_backend();
    }
    return respond(502, "Bad Gateway", fmt::format("eclb: gateway {} {}\n", tried_.back().to_string(), why));
  }
  respond(502, "Bad Gateway", fmt::format("eclb: gateway {} {}\n", route_.backend_name, why));
}

void ProxySession::exchange() {
  if (send_request()) receive_response();
}

bool ProxySession::send_request() {
  if (!to_backend_.empty()) {
    const Io flushed = backend_.flush(to_backend_);
    if (flushed == Io::kError) {
      upstream_failed("reset the connection");
      return false;
    }
    if (flushed == Io::kBlocked) return true;
  }
  // Read from the client only what the gateway may get: the rest of the request's body,
  // then (an upgrade) the first bytes of the tunnel to be, held until the 101.
  const bool body = request_.state() == RequestParser::State::kBody;
  const bool hold = !body && request_.head().upgrade && held_.size() < kHeldLimit;
  for (int chunk = 0; (body || hold) && to_backend_.empty(); ++chunk) {
    if (chunk == kChunksPerTurn) {
      yielded_ = true;
      return true;
    }
    size_t got = 0;
    switch (client_.read(context_.scratch.data(), context_.scratch.size(), got)) {
      case Io::kProgress: break;
      case Io::kBlocked: return true;
      case Io::kEof:
      case Io::kError:
        L7Counters::add(counters_.client_reset);
        finish();
        return false;
    }
    touch();
    const std::string_view data(context_.scratch.data(), got);
    const size_t taken = body ? request_.feed(data) : 0;
    L7Counters::add(counters_.bytes_from_clients, taken);
    to_backend_.assign(data.substr(0, taken));
    held_.append(data.substr(taken));
    if (request_.state() == RequestParser::State::kBad) {
      L7Counters::add(counters_.bad_request);
      finish();  // a request body the gateway would misread: nobody gets the rest
      return false;
    }
    return send_request();  // flush what was read, then decide again
  }
  return true;
}

bool ProxySession::receive_response() {
  if (!to_client_.empty()) {
    const Io flushed = client_.flush(to_client_);
    if (flushed == Io::kError) {
      L7Counters::add(counters_.client_reset);
      finish();
      return false;
    }
    if (flushed == Io::kBlocked) return true;
  }
  if (response_->state() == ResponseParser::State::kComplete || backend_.eof) {
    // The answer was delivered. The connection takes the next request only when the
    // request was read whole (a gateway may answer before the body ended).
    if (keep_alive_ && response_->state() == ResponseParser::State::kComplete &&
        request_.state() == RequestParser::State::kComplete) {
      next_request();
    } else {
      finish();
    }
    return false;
  }
  for (int chunk = 0;; ++chunk) {
    if (chunk == kChunksPerTurn) {
      yielded_ = true;
      return true;
    }
    size_t got = 0;
    switch (backend_.read(context_.scratch.data(), context_.scratch.size(), got)) {
      case Io::kProgress: break;
      case Io::kBlocked: return true;
      case Io::kEof:
        backend_.eof = true;
        response_->end_of_input();
        if (!response_started_) {
          // Closed before its answer was whole (a 101 cut short, nothing at all): the
          // client gets a 502 (or another gateway's answer), never a truncated head.
          upstream_failed("closed without an answer");
          return false;
        }
        return receive_response();  // deliver what is left, then finish
      case Io::kError:
        upstream_failed("reset the connection");
        return false;
    }
    touch();
    const std::string_view data(context_.scratch.data(), got);
    const size_t taken = response_->feed(data);
    const auto state = response_->state();
    if (state == ResponseParser::State::kBad || state == ResponseParser::State::kTooLarge) {
      L7Counters::add(counters_.upstream_reset);
      if (!response_started_) {
        respond(502, "Bad Gateway", fmt::format("eclb: gateway {} sent an invalid answer\n", route_.backend_name));
      } else {
        finish();
      }
      return false;
    }
    L7Counters::add(counters_.bytes_to_clients, taken);
    if (!response_started_) {
      response_head_.append(data.substr(0, taken));
      if (state == ResponseParser::State::kHead) continue;
      if (response_->status() == 101) {
        if (!request_.head().upgrade) {
          L7Counters::add(counters_.upstream_reset);
          respond(502, "Bad Gateway", "eclb: the gateway switched protocols unasked\n");
          return false;
        }
        start_tunnel(data.substr(taken));
        return false;
      }
      response_started_ = true;
      keep_alive_ = request_.keep_alive() && !response_->delimited_by_close() && requests_ < kRequestsPerConnection;
      to_client_ = client_response_head(response_head_, keep_alive_);
      std::string().swap(response_head_);
      if (!keep_alive_) std::string().swap(held_);  // no next request: what the client sent after goes nowhere
    } else {
      to_client_.append(data.substr(0, taken));
    }
    return receive_response();
  }
}

void ProxySession::start_tunnel(std::string_view after_head) {
  // The 101 and what the gateway sent after it go to the client; the bytes the client
  // sent after its upgrade request, held until now, go to the gateway.
  to_client_ = std::move(response_head_);
  std::string().swap(response_head_);
  to_client_.append(after_head);
  to_backend_ = std::move(held_);
  std::string().swap(held_);
  response_started_ = true;
  phase_ = Phase::kTunnel;
}

void ProxySession::next_request() {
  // As a new connection, from the head on; the gateway connection is closed (each
  // request gets its own, as the image's nginx has it).
  close_backend();
  if (idle_timer_ != 0) context_.loop.cancel(std::exchange(idle_timer_, 0));
  request_.reset();
  response_.reset();
  route_ = RouteDecision{};
  tried_.clear();
  std::string().swap(upstream_);
  std::string().swap(replay_);
  std::string().swap(to_backend_);
  pending_ = std::move(held_);
  held_.clear();
  response_started_ = keep_alive_ = backend_shut_ = false;
  phase_ = Phase::kHead;
  touch();
  // An idle kept-alive connection is closed after the head timeout, as a new one would be.
  phase_timer_ = context_.loop.after(std::chrono::milliseconds(context_.limits.handshake_timeout_ms), [this] {
    phase_timer_ = 0;
    finish();
  });
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
  close_backend();
  std::string().swap(to_backend_);
  std::string().swap(held_);
  to_client_ = render_response(status, reason, body, extra_headers);
  phase_ = Phase::kRespond;
  // A client that never reads its answer must not hold the connection forever.
  if (phase_timer_ != 0) context_.loop.cancel(phase_timer_);
  phase_timer_ = context_.loop.after(std::chrono::milliseconds(context_.limits.handshake_timeout_ms), [this] {
    phase_timer_ = 0;
    finish();
  });
}

void ProxySession::close_backend() {
  if (backend_.fd < 0) return;
  if (backend_watched_) context_.loop.forget(backend_.fd);
  close(backend_.fd);
  backend_ = Transport{};
  backend_watched_ = false;
  backend_events_ = 0;
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
