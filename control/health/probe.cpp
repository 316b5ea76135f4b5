// The probe state machine: connect -> (TLS handshake) -> send -> read -> verdict.
#include "control/health/probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace eclb::ctl {
namespace {

constexpr size_t kMaxResponse = 16384;

std::string base64(const unsigned char* data, size_t length) {
  std::string out(4 * ((length + 2) / 3), '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(length));
  out.resize(static_cast<size_t>(written));
  return out;
}

bool uses_tls(const HealthCheckConfig& check) {
  return check.kind == HealthCheckConfig::Kind::kHttps || (check.kind == HealthCheckConfig::Kind::kWebSocket && check.tls);
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

std::string Probe::websocket_accept(const std::string& key) {
  const std::string joined = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(joined.data()), joined.size(), digest);
  return base64(digest, sizeof digest);
}

void Probe::start(EventLoop& loop, SSL_CTX* tls, const HealthCheckConfig& check, const Endpoint& backend, Done done) {
  (new Probe(loop, tls, check, backend, std::move(done)))->begin();
}

Probe::Probe(EventLoop& loop, SSL_CTX* tls, const HealthCheckConfig& check, const Endpoint& backend, Done done)
    : loop_(loop), tls_context_(tls), check_(check), backend_(backend), done_(std::move(done)), started_(loop.now()) {}

Probe::~Probe() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (fd_ >= 0) {
    loop_.unwatch(fd_);
    close(fd_);
  }
  if (timer_ != 0) loop_.cancel(timer_);
}

void Probe::begin() {
  timer_ = loop_.after(std::chrono::milliseconds(check_.timeout_ms), [this] {
    timer_ = 0;
    finish(false, "timeout");
  });
  const bool v6 = backend_.address.is_v6();
  fd_ = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return finish(false, fmt::format("socket: {}", std::strerror(errno)));
  sockaddr_storage address{};
  const socklen_t length = to_sockaddr(backend_, address);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 && errno != EINPROGRESS) {
    return finish(false, std::strerror(errno));
  }
  if (auto watched = loop_.watch(fd_, EPOLLOUT, [this](uint32_t events) { on_event(events); }); !watched) {
    return finish(false, watched.error().message);
  }
}

void Probe::want(uint32_t events) { (void)loop_.modify(fd_, events); }

void Probe::on_event(uint32_t events) {
  switch (stage_) {
    case Stage::kConnecting: {
      int error = 0;
      socklen_t length = sizeof error;
      getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length);
      if (error != 0) return finish(false, std::strerror(error));
      if ((events & (EPOLLERR | EPOLLHUP)) != 0) return finish(false, "connection failed");
      return after_connect();
    }
    case Stage::kHandshake: return drive_tls_handshake();
    case Stage::kSending: return send_request();
    case Stage::kReading: return read_response();
  }
}

void Probe::after_connect() {
  if (check_.kind == HealthCheckConfig::Kind::kTcp) return finish(true, "ok");
  const std::string host = check_.host.empty() ? backend_.address.to_string() : check_.host;
  request_ = fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: eclb-health\r\n", check_.path, host);
  if (check_.kind == HealthCheckConfig::Kind::kWebSocket) {
    unsigned char nonce[16];
    RAND_bytes(nonce, sizeof nonce);
    websocket_key_ = base64(nonce, sizeof nonce);
    request_ += fmt::format(
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n\r\n",
        websocket_key_);
  } else {
    request_ += "Connection: close\r\n\r\n";
  }
  if (uses_tls(check_)) {
    if (tls_context_ == nullptr || (ssl_ = SSL_new(tls_context_)) == nullptr) return finish(false, "TLS unavailable");
    SSL_set_fd(ssl_, fd_);
    if (!check_.host.empty()) SSL_set_tlsext_host_name(ssl_, check_.host.c_str());
    stage_ = Stage::kHandshake;
    return drive_tls_handshake();
  }
  stage_ = Stage::kSending;
  send_request();
}

void Probe::drive_tls_handshake() {
  const int rc = SSL_connect(ssl_);
  if (rc == 1) {
    stage_ = Stage::kSending;
    return send_request();
  }
  const int error = SSL_get_error(ssl_, rc);
  if (error == SSL_ERROR_WANT_READ) return want(EPOLLIN);
  if (error == SSL_ERROR_WANT_WRITE) return want(EPOLLOUT);
  char text[256];
  ERR_error_string_n(ERR_get_error(), text, sizeof text);
  finish(false, fmt::format("TLS handshake failed: {}", text));
}

void Probe::send_request() {
  while (sent_ < request_.size()) {
    const char* data = request_.data() + sent_;
    const size_t left = request_.size() - sent_;
    ssize_t written;
    if (ssl_ != nullptr) {
      written = SSL_write(ssl_, data, static_cast<int>(left));
      if (written <= 0) {
        const int error = SSL_get_error(ssl_, static_cast<int>(written));
        if (error == SSL_ERROR_WANT_WRITE) return want(EPOLLOUT);
        if (error == SSL_ERROR_WANT_READ) return want(EPOLLIN);
        return finish(false, "TLS write failed");
      }
    } else {
      written = send(fd_, data, left, MSG_NOSIGNAL);
      if (written < 0) {
        if (errno == EAGAIN) return want(EPOLLOUT);
        return finish(false, std::strerror(errno));
      }
    }
    sent_ += static_cast<size_t>(written);
  }
  stage_ = Stage::kReading;
  want(EPOLLIN);
  read_response();
}

void Probe::read_response() {
  char buffer[4096];
  for (;;) {
    ssize_t got;
    if (ssl_ != nullptr) {
      got = SSL_read(ssl_, buffer, sizeof buffer);
      if (got <= 0) {
        const int error = SSL_get_error(ssl_, static_cast<int>(got));
        if (error == SSL_ERROR_WANT_READ) return want(EPOLLIN);
        if (error == SSL_ERROR_WANT_WRITE) return want(EPOLLOUT);
        got = 0;  // closed or failed: judge what arrived
      }
    } else {
      got = recv(fd_, buffer, sizeof buffer, 0);
      if (got < 0 && errno == EAGAIN) return;
      if (got < 0) return finish(false, std::strerror(errno));
    }
    if (got == 0) break;
    response_.append(buffer, static_cast<size_t>(got));
    if (response_.find("\r\n\r\n") != std::string::npos || response_.size() > kMaxResponse) break;
  }
  std::string detail;
  const bool ok = evaluate(detail);
  finish(ok, detail);
}

bool Probe::evaluate(std::string& detail) const {
  const size_t line_end = response_.find("\r\n");
  if (response_.rfind("HTTP/1.", 0) != 0 || line_end == std::string::npos || line_end < 12) {
    detail = response_.empty() ? "no response" : "not an HTTP response";
    return false;
  }
  const int status = std::atoi(response_.c_str() + 9);
  if (status != check_.expect_status) {
    detail = fmt::format("status {}", status);
    return false;
  }
  if (check_.kind == HealthCheckConfig::Kind::kWebSocket) {
    const size_t headers_end = response_.find("\r\n\r\n");
    if (headers_end == std::string::npos) {
      detail = "incomplete upgrade response";
      return false;
    }
    // Header names are case-insensitive, the value is not.
    const std::string headers = lower(response_.substr(0, headers_end));
    const size_t name = headers.find("\r\nsec-websocket-accept:");
    std::string value;
    if (name != std::string::npos) {
      const size_t start = name + 23;
      const size_t end = response_.find("\r\n", start);
      value = response_.substr(start, end - start);
      value.erase(0, value.find_first_not_of(" \t"));
      value.erase(value.find_last_not_of(" \t") + 1);
    }
    if (value != websocket_accept(websocket_key_)) {
      detail = "bad Sec-WebSocket-Accept";
      return false;
    }
  }
  detail = "ok";
  return true;
}

void Probe::finish(bool ok, std::string detail) {
  if (finished_) return;
  finished_ = true;
  ProbeResult result{ok, std::chrono::duration_cast<std::chrono::microseconds>(loop_.now() - started_),
                     std::move(detail)};
  Done done = std::move(done_);
  delete this;
  done(result);
}

}  // namespace eclb::ctl
