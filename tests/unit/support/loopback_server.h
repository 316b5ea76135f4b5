// Loopback helpers for tests: an HTTP(S) server thread answering each connection with a
// callback's response, and a port nothing listens on.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "common/ip_address.h"

namespace eclb::test {

// Answers every connection on 127.0.0.1:<ephemeral> with respond(request).
class LoopbackServer {
 public:
  using Respond = std::function<std::string(const std::string& request)>;

  explicit LoopbackServer(Respond respond, SSL_CTX* tls = nullptr) : respond_(std::move(respond)), tls_(tls) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    socklen_t length = sizeof address;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    listen(fd_, 64);
    thread_ = std::thread([this] { serve(); });
  }
  ~LoopbackServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  Endpoint endpoint() const { return *Endpoint::parse("127.0.0.1:" + std::to_string(port_)); }
  void set_respond(Respond respond) {
    std::lock_guard lock(mutex_);
    respond_ = std::move(respond);
  }

 private:
  void serve() {
    while (!stop_) {
      const int client = accept(fd_, nullptr, nullptr);
      if (client < 0) return;
      SSL* ssl = nullptr;
      if (tls_ != nullptr) {
        ssl = SSL_new(tls_);
        SSL_set_fd(ssl, client);
        if (SSL_accept(ssl) != 1) {
          SSL_free(ssl);
          close(client);
          continue;
        }
      }
      std::string request;
      char buffer[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        timeval timeout{0, 200000};
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        const int got = ssl ? SSL_read(ssl, buffer, sizeof buffer) : static_cast<int>(recv(client, buffer, sizeof buffer, 0));
        if (got <= 0) break;
        request.append(buffer, static_cast<size_t>(got));
      }
      Respond respond;
      {
        std::lock_guard lock(mutex_);
        respond = respond_;
      }
      const std::string answer = respond(request);
      if (answer == "HANG") {
        std::this_thread::sleep_for(std::chrono::milliseconds(400));
      } else if (ssl) {
        SSL_write(ssl, answer.data(), static_cast<int>(answer.size()));
      } else {
        send(client, answer.data(), answer.size(), MSG_NOSIGNAL);
      }
      if (ssl) {
        SSL_shutdown(ssl);
        SSL_free(ssl);
      }
      close(client);
    }
  }

  std::mutex mutex_;
  Respond respond_;
  SSL_CTX* tls_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A loopback port that was free a moment ago (bound, read, released): for "connection
// refused", or for a listener the code under test binds next.
inline Endpoint unused_loopback_port() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return *Endpoint::parse("127.0.0.1:" + std::to_string(ntohs(address.sin_port)));
}

}  // namespace eclb::test
