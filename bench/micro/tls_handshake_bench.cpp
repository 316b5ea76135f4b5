// Server-side CPU of one full TLS handshake with eclb's TLS contexts (control/l7/
// tls_store.h): an OpenSSL client and the server over an in-memory BIO pair, one thread,
// and only the server's calls timed (thread CPU clock). No sockets or scheduler in the
// figure: it isolates what eclb's TLS settings cost, e.g. each session ticket. The
// certificate is the L7 tests' kind: self-signed ECDSA P-256; clients offer X25519.
#include <benchmark/benchmark.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "control/l7/tls_store.h"
#include "tests/unit/support/temp_dir.h"

namespace eclb::ctl {
namespace {

double thread_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

// A certificate and key made once per run with the openssl command, in a directory
// removed at exit.
const TlsCertificateConfig& certificate() {
  static const test::TempDir dir;
  static const TlsCertificateConfig files = [] {
    TlsCertificateConfig made{dir.file("cert.crt"), dir.file("certkey.key")};
    const std::string command =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=watchers.test "
        "-addext subjectAltName=DNS:watchers.test -keyout " + made.key_path + " -out " + made.cert_path + " 2>/dev/null";
    if (std::system(command.c_str()) != 0) {
      std::fprintf(stderr, "tls_handshake_bench: openssl req failed: %s\n", command.c_str());
      std::exit(1);
    }
    return made;
  }();
  return files;
}

void BM_TlsFullHandshakeServerCpu(benchmark::State& state) {
  const auto tickets = static_cast<uint32_t>(state.range(0));
  auto store = TlsStore::load({certificate()}, tickets);
  if (!store) {
    state.SkipWithError(store.error().message.c_str());
    return;
  }
  SSL_CTX* client_context = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(client_context, SSL_VERIFY_NONE, nullptr);
  for (auto _ : state) {
    SSL* server = (*store)->new_connection(-1);
    SSL* client = SSL_new(client_context);
    SSL_set_tlsext_host_name(client, "watchers.test");
    BIO* client_end = nullptr;
    BIO* server_end = nullptr;
    BIO_new_bio_pair(&client_end, 1 << 15, &server_end, 1 << 15);
    SSL_set_bio(client, client_end, client_end);
    SSL_set_bio(server, server_end, server_end);  // replaces new_connection's socket BIO
    SSL_set_connect_state(client);
    double server_seconds = 0;
    bool client_done = false, server_done = false;
    for (int step = 0; step < 10 && !(client_done && server_done); ++step) {
      if (!client_done) client_done = SSL_do_handshake(client) == 1;
      const double started = thread_cpu_seconds();
      if (!server_done) server_done = SSL_do_handshake(server) == 1;
      server_seconds += thread_cpu_seconds() - started;
    }
    if (!client_done || !server_done) {
      state.SkipWithError("handshake failed");
      break;
    }
    const double started = thread_cpu_seconds();
    SSL_free(server);
    server_seconds += thread_cpu_seconds() - started;
    SSL_free(client);
    ERR_clear_error();
    state.SetIterationTime(server_seconds);
  }
  SSL_CTX_free(client_context);
}
BENCHMARK(BM_TlsFullHandshakeServerCpu)->ArgName("tickets")->Arg(0)->Arg(1)->Arg(2)->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace eclb::ctl

BENCHMARK_MAIN();
