// TlsStore: the server certificates of one L7 VIP, as OpenSSL contexts. The client's
// SNI picks the certificate whose names (subjectAltName DNS entries, else the CN; "*."
// wildcards match one label) fit; without SNI or a match, the first certificate serves.
// TLS 1.2 and 1.3 only, forward-secret AEAD ciphers, no renegotiation, and buffers
// released while a connection is idle (most agent WebSockets are).
//
// A store is immutable. Reloading certificates builds a new store; connections already
// open keep the old one alive through their shared_ptr until they close.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "config/config.h"

namespace eclb::ctl {

class TlsStore {
 public:
  // `session_tickets`: TLS 1.3 tickets sent after each full handshake; 0 also turns
  // TLS 1.2 tickets off (no resumption at all).
  static Result<std::shared_ptr<const TlsStore>> load(const std::vector<TlsCertificateConfig>& certificates,
                                                      uint32_t session_tickets = 1);
  ~TlsStore();
  TlsStore(const TlsStore&) = delete;
  TlsStore& operator=(const TlsStore&) = delete;

  // A server-side SSL for `fd`, or nullptr (out of memory).
  SSL* new_connection(int fd) const;
  // Names of every certificate, in config order (for logs and tests).
  std::vector<std::vector<std::string>> names() const;

 private:
  struct Certificate {
    SSL_CTX* context = nullptr;
    std::vector<std::string> names;  // lower case
  };
  TlsStore() = default;
  static int on_server_name(SSL* ssl, int* alert, void* store);
  const Certificate* find(std::string_view server_name) const;

  std::vector<Certificate> certificates_;
};

// "*.example.com" matches "a.example.com" but not "example.com" or "a.b.example.com".
bool tls_name_matches(std::string_view pattern, std::string_view name);

}  // namespace eclb::ctl
