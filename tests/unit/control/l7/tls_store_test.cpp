// Certificate stores: names, wildcards, errors; TLS 1.2+ only (a real handshake each).
#include "control/l7/tls_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <sys/socket.h>

#include <cstdlib>
#include <fstream>

#include "tests/unit/support/temp_dir.h"

namespace eclb::ctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A self-signed certificate from the openssl command (Debian's `openssl` package).
TlsCertificateConfig make_certificate(const test::TempDir& dir, const std::string& name, const std::string& san) {
  TlsCertificateConfig files{dir.file(name + ".crt"), dir.file(name + ".key")};
  const std::string command = fmt::format(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN={} {} "
      "-keyout {} -out {} 2>/dev/null",
      name, san.empty() ? "" : "-addext subjectAltName=" + san, files.key_path, files.cert_path);
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  return files;
}

// A server SSL from `store` and an OpenSSL client of `client_context`, over a
// non-blocking socket pair; both freed and closed on destruction.
struct TlsPair {
  TlsPair(const TlsStore& store, SSL_CTX* client_context) {
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    server = store.new_connection(fds[0]);
    client = SSL_new(client_context);
    SSL_set_fd(client, fds[1]);
    SSL_set_connect_state(client);
  }
  ~TlsPair() {
    SSL_free(client);
    SSL_free(server);
    close(fds[0]);
    close(fds[1]);
    ERR_clear_error();
  }
  // Steps both sides until the handshake completes (true) or one side fails.
  bool handshake() {
    for (int round = 0; round < 100; ++round) {
      const int c = SSL_do_handshake(client);
      const int s = SSL_do_handshake(server);
      if (c == 1 && s == 1) return true;
      if ((c != 1 && SSL_get_error(client, c) == SSL_ERROR_SSL) || (s != 1 && SSL_get_error(server, s) == SSL_ERROR_SSL)) {
        return false;
      }
    }
    return false;
  }
  TlsPair(const TlsPair&) = delete;
  TlsPair& operator=(const TlsPair&) = delete;

  int fds[2] = {-1, -1};
  SSL* server = nullptr;
  SSL* client = nullptr;
};

// Handshakes `server` with an OpenSSL client over a socket pair; the certificate's CN.
// With `trusted_root`, the client verifies the server's chain against that root alone and
// `chain_length` receives how many certificates the server sent.
std::string handshake(const TlsStore& store, const char* sni, int max_version = 0, bool* ok = nullptr,
                      const std::string& trusted_root = "", int* chain_length = nullptr) {
  SSL_CTX* client_context = SSL_CTX_new(TLS_client_method());
  if (max_version != 0) {
    SSL_CTX_set_min_proto_version(client_context, max_version);
    SSL_CTX_set_max_proto_version(client_context, max_version);
    SSL_CTX_set_security_level(client_context, 0);
    SSL_CTX_set_cipher_list(client_context, "ALL:@SECLEVEL=0");
  }
  if (!trusted_root.empty()) {
    EXPECT_EQ(SSL_CTX_load_verify_locations(client_context, trusted_root.c_str(), nullptr), 1);
    SSL_CTX_set_verify(client_context, SSL_VERIFY_PEER, nullptr);
  }
  std::string common_name;
  {
    TlsPair pair(store, client_context);
    if (sni != nullptr) SSL_set_tlsext_host_name(pair.client, sni);
    const bool done = pair.handshake();
    if (ok != nullptr) *ok = done;
    if (done) {
      X509* peer = SSL_get1_peer_certificate(pair.client);
      char text[256] = {};
      X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, text, sizeof text);
      common_name = text;
      X509_free(peer);
      if (chain_length != nullptr) *chain_length = sk_X509_num(SSL_get_peer_cert_chain(pair.client));
    }
  }
  SSL_CTX_free(client_context);
  return common_name;
}

TEST(TlsStoreTest, WildcardsMatchOneLabel) {
  EXPECT_TRUE(tls_name_matches("*.example.com", "a.example.com"));
  EXPECT_FALSE(tls_name_matches("*.example.com", "example.com"));
  EXPECT_FALSE(tls_name_matches("*.example.com", "a.b.example.com"));
  EXPECT_TRUE(tls_name_matches("example.com", "example.com"));
}

TEST(TlsStoreTest, SniPicksTheCertificateAndTheFirstIsTheDefault) {
  test::TempDir dir;
  auto store = TlsStore::load({make_certificate(dir, "watchers.example.com", ""),
                               make_certificate(dir, "other", "DNS:other.example.org,DNS:*.other.example.org")});
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_THAT((*store)->names(), ElementsAre(ElementsAre("watchers.example.com"),
                                             ElementsAre("other.example.org", "*.other.example.org")));
  EXPECT_EQ(handshake(**store, "a.other.example.org"), "other");
  EXPECT_EQ(handshake(**store, "OTHER.example.org"), "other");
  EXPECT_EQ(handshake(**store, "watchers.example.com"), "watchers.example.com");
  EXPECT_EQ(handshake(**store, "unknown.example.net"), "watchers.example.com");
  EXPECT_EQ(handshake(**store, nullptr), "watchers.example.com");
}

TEST(TlsStoreTest, RefusesTls11AndAcceptsTls12And13) {
  test::TempDir dir;
  auto store = TlsStore::load({make_certificate(dir, "a.example", "")});
  ASSERT_TRUE(store.ok());
  bool ok = false;
  handshake(**store, nullptr, TLS1_1_VERSION, &ok);
  EXPECT_FALSE(ok);
  handshake(**store, nullptr, TLS1_2_VERSION, &ok);
  EXPECT_TRUE(ok);
  handshake(**store, nullptr, TLS1_3_VERSION, &ok);
  EXPECT_TRUE(ok);
}

TEST(TlsStoreTest, ClearErrorsForMissingMismatchedOrGarbageFiles) {
  test::TempDir dir;
  const TlsCertificateConfig a = make_certificate(dir, "a.example", "");
  const TlsCertificateConfig b = make_certificate(dir, "b.example", "");
  auto missing = TlsStore::load({{dir.file("nope.crt"), a.key_path}});
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("nope.crt"));
  auto mismatched = TlsStore::load({{a.cert_path, b.key_path}});
  ASSERT_FALSE(mismatched.ok());
  EXPECT_THAT(mismatched.error().message, HasSubstr("mismatch"));
  std::ofstream(dir.file("garbage.crt")) << "not a certificate\n";
  EXPECT_FALSE(TlsStore::load({{dir.file("garbage.crt"), a.key_path}}).ok());
  EXPECT_FALSE(TlsStore::load({}).ok());
}

// The certificate file of a CA-issued certificate holds the leaf, then the intermediates
// (as nginx's ssl_certificate does). The server sends exactly that chain (it builds none
// of its own: SSL_MODE_NO_AUTO_CHAIN), and a client that trusts only the root accepts it.
TEST(TlsStoreTest, TheCertificateFilesChainIsSentAndVerifiesAgainstTheRoot) {
  test::TempDir dir;
  const auto run = [](const std::string& command) { EXPECT_EQ(std::system((command + " 2>/dev/null").c_str()), 0) << command; };
  const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
  std::ofstream(dir.file("ca.ext")) << "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n";
  std::ofstream(dir.file("leaf.ext")) << "basicConstraints=CA:FALSE\nsubjectAltName=DNS:leaf.example\n";
  run(fmt::format("openssl req -x509 {} -days 2 -subj /CN=root -keyout {} -out {}", ec, dir.file("root.key"),
                  dir.file("root.crt")));
  run(fmt::format("openssl req -new {} -subj /CN=intermediate -keyout {} -out {}", ec, dir.file("int.key"),
                  dir.file("int.csr")));
  run(fmt::format("openssl x509 -req -in {} -CA {} -CAkey {} -CAcreateserial -days 2 -extfile {} -out {}",
                  dir.file("int.csr"), dir.file("root.crt"), dir.file("root.key"), dir.file("ca.ext"), dir.file("int.crt")));
  run(fmt::format("openssl req -new {} -subj /CN=leaf.example -keyout {} -out {}", ec, dir.file("leaf.key"),
                  dir.file("leaf.csr")));
  run(fmt::format("openssl x509 -req -in {} -CA {} -CAkey {} -CAcreateserial -days 2 -extfile {} -out {}",
                  dir.file("leaf.csr"), dir.file("int.crt"), dir.file("int.key"), dir.file("leaf.ext"), dir.file("leaf.crt")));
  run(fmt::format("cat {} {} > {}", dir.file("leaf.crt"), dir.file("int.crt"), dir.file("chain.crt")));

  auto store = TlsStore::load({{dir.file("chain.crt"), dir.file("leaf.key")}});
  ASSERT_TRUE(store.ok()) << store.error().message;
  bool ok = false;
  int chain_length = 0;
  EXPECT_EQ(handshake(**store, "leaf.example", 0, &ok, dir.file("root.crt"), &chain_length), "leaf.example");
  EXPECT_TRUE(ok);
  EXPECT_EQ(chain_length, 2);  // leaf and intermediate; the client has the root

  // The leaf alone cannot be verified against the root: the intermediate comes only
  // from the file, never from a chain the server would build.
  auto leaf_only = TlsStore::load({{dir.file("leaf.crt"), dir.file("leaf.key")}});
  ASSERT_TRUE(leaf_only.ok()) << leaf_only.error().message;
  handshake(**leaf_only, "leaf.example", 0, &ok, dir.file("root.crt"));
  EXPECT_FALSE(ok);
}

// Session tickets the client receives from one full handshake at `version`.
int tickets_received(const TlsStore& store, int version) {
  SSL_CTX* client_context = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(client_context, version);
  SSL_CTX_set_max_proto_version(client_context, version);
  static int received;
  received = 0;
  SSL_CTX_set_session_cache_mode(client_context, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(client_context, [](SSL*, SSL_SESSION* session) {
    if (SSL_SESSION_has_ticket(session)) ++received;
    return 0;  // not kept
  });
  {
    TlsPair pair(store, client_context);
    EXPECT_TRUE(pair.handshake());
    char byte;
    SSL_read(pair.client, &byte, 1);  // TLS 1.3 tickets follow the handshake: read them (then WANT_READ)
  }
  SSL_CTX_free(client_context);
  return received;
}

// One ticket per full handshake by default (an agent resumes one connection), as many as
// configured, and none at all with 0, in TLS 1.3 and 1.2 alike.
TEST(TlsStoreTest, IssuesTheConfiguredNumberOfSessionTickets) {
  test::TempDir dir;
  const TlsCertificateConfig files = make_certificate(dir, "a.example", "");
  auto by_default = TlsStore::load({files});
  ASSERT_TRUE(by_default.ok());
  EXPECT_EQ(tickets_received(**by_default, TLS1_3_VERSION), 1);
  EXPECT_EQ(tickets_received(**by_default, TLS1_2_VERSION), 1);
  auto three = TlsStore::load({files}, 3);
  ASSERT_TRUE(three.ok());
  EXPECT_EQ(tickets_received(**three, TLS1_3_VERSION), 3);
  auto none = TlsStore::load({files}, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(tickets_received(**none, TLS1_3_VERSION), 0);
  EXPECT_EQ(tickets_received(**none, TLS1_2_VERSION), 0);
}

}  // namespace
}  // namespace eclb::ctl
