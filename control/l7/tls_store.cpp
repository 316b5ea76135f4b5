// OpenSSL server contexts for the L7 proxy (see tls_store.h).
#include "control/l7/tls_store.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>

namespace eclb::ctl {
namespace {

std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::vector<std::string> certificate_names(X509* certificate) {
  std::vector<std::string> names;
  auto* alt_names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr));
  if (alt_names != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(alt_names); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(alt_names, i);
      if (name->type != GEN_DNS) continue;
      const auto* bytes = reinterpret_cast<const char*>(ASN1_STRING_get0_data(name->d.dNSName));
      names.push_back(lower(std::string_view(bytes, static_cast<size_t>(ASN1_STRING_length(name->d.dNSName)))));
    }
    GENERAL_NAMES_free(alt_names);
  }
  if (names.empty()) {  // RFC 6125 fallback: the subject's common name
    char common_name[256];
    const int length = X509_NAME_get_text_by_NID(X509_get_subject_name(certificate), NID_commonName, common_name,
                                                 sizeof common_name);
    if (length > 0) names.push_back(lower(std::string_view(common_name, static_cast<size_t>(length))));
  }
  return names;
}

Result<SSL_CTX*> make_context(const TlsCertificateConfig& files, uint32_t session_tickets) {
  SSL_CTX* context = SSL_CTX_new(TLS_server_method());
  if (context == nullptr) return make_error("SSL_CTX_new: {}", openssl_error());
  const auto fail = [&](std::string what) -> Result<SSL_CTX*> {
    SSL_CTX_free(context);
    return Error{std::move(what)};
  };
  SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
  // TLS 1.2: ECDHE with AEAD only. TLS 1.3 suites are all modern; OpenSSL's default set.
  if (SSL_CTX_set_cipher_list(context, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1) {
    return fail(fmt::format("cipher list: {}", openssl_error()));
  }
  SSL_CTX_set_options(context, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
  // Partial writes and a moving buffer let the relay hand SSL_write whatever it has;
  // releasing buffers keeps an idle connection's TLS state small.
  // The chain sent is the certificate file's (leaf, then intermediates, as nginx expects
  // it): without NO_AUTO_CHAIN, OpenSSL would try to build a chain from the context's
  // (empty) store on every handshake, for nothing.
  SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN);
  // Read whole socket buffers, not record header then body: half the recv() calls of a
  // handshake. The relay drains what OpenSSL buffered before it waits on the socket.
  SSL_CTX_set_read_ahead(context, 1);
  // Resumption by stateless tickets only (as nginx's default): a server-side session
  // cache costs a lock, an insert and periodic full scans on every full handshake.
  SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(context, session_tickets);
  if (session_tickets == 0) SSL_CTX_set_options(context, SSL_OP_NO_TICKET);
  if (SSL_CTX_use_certificate_chain_file(context, files.cert_path.c_str()) != 1) {
    return fail(fmt::format("certificate {}: {}", files.cert_path, openssl_error()));
  }
  if (SSL_CTX_use_PrivateKey_file(context, files.key_path.c_str(), SSL_FILETYPE_PEM) != 1) {
    return fail(fmt::format("key {}: {}", files.key_path, openssl_error()));
  }
  if (SSL_CTX_check_private_key(context) != 1) {
    return fail(fmt::format("key {} does not match certificate {}", files.key_path, files.cert_path));
  }
  return context;
}

}  // namespace

bool tls_name_matches(std::string_view pattern, std::string_view name) {
  if (pattern.size() > 2 && pattern.substr(0, 2) == "*.") {
    const size_t dot = name.find('.');
    if (dot == std::string_view::npos || dot == 0) return false;
    return name.substr(dot) == pattern.substr(1);
  }
  return pattern == name;
}

Result<std::shared_ptr<const TlsStore>> TlsStore::load(const std::vector<TlsCertificateConfig>& certificates,
                                                       uint32_t session_tickets) {
  if (certificates.empty()) return make_error("no certificate configured");
  std::shared_ptr<TlsStore> store(new TlsStore());
  for (const TlsCertificateConfig& files : certificates) {
    auto context = make_context(files, session_tickets);
    if (!context) return std::move(context).error();
    Certificate certificate{*context, certificate_names(SSL_CTX_get0_certificate(*context))};
    SSL_CTX_set_tlsext_servername_callback(*context, &TlsStore::on_server_name);
    SSL_CTX_set_tlsext_servername_arg(*context, store.get());
    store->certificates_.push_back(std::move(certificate));
  }
  return std::shared_ptr<const TlsStore>(std::move(store));
}

TlsStore::~TlsStore() {
  for (Certificate& certificate : certificates_) SSL_CTX_free(certificate.context);
}

SSL* TlsStore::new_connection(int fd) const {
  SSL* ssl = SSL_new(certificates_.front().context);
  if (ssl == nullptr) return nullptr;
  if (SSL_set_fd(ssl, fd) != 1) {
    SSL_free(ssl);
    return nullptr;
  }
  SSL_set_accept_state(ssl);
  return ssl;
}

std::vector<std::vector<std::string>> TlsStore::names() const {
  std::vector<std::vector<std::string>> out;
  for (const Certificate& certificate : certificates_) out.push_back(certificate.names);
  return out;
}

const TlsStore::Certificate* TlsStore::find(std::string_view server_name) const {
  const std::string name = lower(server_name);
  for (const Certificate& certificate : certificates_) {
    for (const std::string& pattern : certificate.names) {
      if (tls_name_matches(pattern, name)) return &certificate;
    }
  }
  return nullptr;
}

int TlsStore::on_server_name(SSL* ssl, int* /*alert*/, void* store) {
  const char* server_name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (server_name == nullptr) return SSL_TLSEXT_ERR_NOACK;
  const Certificate* certificate = static_cast<const TlsStore*>(store)->find(server_name);
  if (certificate != nullptr && certificate->context != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, certificate->context);
  return SSL_TLSEXT_ERR_OK;  // no match: the default certificate, as nginx does
}

}  // namespace eclb::ctl
