// Probes against real servers on loopback (a thread each, blocking sockets): TCP connect,
// HTTP status, WebSocket upgrade with Sec-WebSocket-Accept, HTTPS over OpenSSL, timeouts;
// and HealthMonitor's rise/fall timing.
#include "control/health/probe.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <thread>

#include "control/health/health_monitor.h"
#include "tests/unit/support/loopback_server.h"

namespace eclb::ctl {
namespace {

HealthCheckConfig check(HealthCheckConfig::Kind kind, uint32_t timeout_ms = 300) {
  HealthCheckConfig config;
  config.kind = kind;
  config.path = "/agent";
  config.timeout_ms = timeout_ms;
  config.interval_ms = 1000;
  if (kind == HealthCheckConfig::Kind::kWebSocket) config.expect_status = 101;
  return config;
}

ProbeResult run_probe(const HealthCheckConfig& config, const Endpoint& backend, SSL_CTX* tls = nullptr) {
  EventLoop loop;
  ProbeResult result;
  bool done = false;
  Probe::start(loop, tls, config, backend, [&](const ProbeResult& r) {
    result = r;
    done = true;
    loop.stop();
  });
  if (!done) loop.run();
  return result;
}

std::string header(const std::string& request, const std::string& name) {
  const size_t at = request.find(name + ": ");
  if (at == std::string::npos) return {};
  const size_t start = at + name.size() + 2;
  return request.substr(start, request.find("\r\n", start) - start);
}

TEST(ProbeTest, TcpConnects) {
  test::LoopbackServer server([](const std::string&) { return std::string(); });
  EXPECT_TRUE(run_probe(check(HealthCheckConfig::Kind::kTcp), server.endpoint()).ok);
  const ProbeResult refused = run_probe(check(HealthCheckConfig::Kind::kTcp), test::unused_loopback_port());
  EXPECT_FALSE(refused.ok);
  EXPECT_EQ(refused.detail, "Connection refused");
}

TEST(ProbeTest, HttpNeedsTheExpectedStatus) {
  std::string seen;
  test::LoopbackServer server([&](const std::string& request) {
    seen = request;
    return std::string("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  });
  const ProbeResult good = run_probe(check(HealthCheckConfig::Kind::kHttp), server.endpoint());
  EXPECT_TRUE(good.ok) << good.detail;
  EXPECT_EQ(seen.rfind("GET /agent HTTP/1.1\r\n", 0), 0u);
  EXPECT_EQ(header(seen, "Host"), "127.0.0.1");
  server.set_respond([](const std::string&) { return std::string("HTTP/1.1 503 Service Unavailable\r\n\r\n"); });
  const ProbeResult bad = run_probe(check(HealthCheckConfig::Kind::kHttp), server.endpoint());
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ(bad.detail, "status 503");
  server.set_respond([](const std::string&) { return std::string("SSH-2.0-OpenSSH\r\n"); });
  EXPECT_EQ(run_probe(check(HealthCheckConfig::Kind::kHttp), server.endpoint()).detail, "not an HTTP response");
}

TEST(ProbeTest, WebSocketUpgradeMustBeAcceptedProperly) {
  test::LoopbackServer server([](const std::string& request) {
    return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nsec-websocket-accept: " +
           Probe::websocket_accept(header(request, "Sec-WebSocket-Key")) + "\r\n\r\n";
  });
  const ProbeResult good = run_probe(check(HealthCheckConfig::Kind::kWebSocket), server.endpoint());
  EXPECT_TRUE(good.ok) << good.detail;
  server.set_respond([](const std::string&) {
    return std::string("HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: d3Jvbmc=\r\n\r\n");
  });
  EXPECT_EQ(run_probe(check(HealthCheckConfig::Kind::kWebSocket), server.endpoint()).detail, "bad Sec-WebSocket-Accept");
  server.set_respond([](const std::string&) { return std::string("HTTP/1.1 200 OK\r\n\r\n"); });
  EXPECT_EQ(run_probe(check(HealthCheckConfig::Kind::kWebSocket), server.endpoint()).detail, "status 200");
  // RFC 6455 section 1.3's example.
  EXPECT_EQ(Probe::websocket_accept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

SSL_CTX* self_signed_server() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* certificate = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(certificate), 1);
  X509_gmtime_adj(X509_getm_notBefore(certificate), 0);
  X509_gmtime_adj(X509_getm_notAfter(certificate), 3600);
  X509_set_pubkey(certificate, key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(certificate), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("backend.test"), -1, -1, 0);
  X509_set_issuer_name(certificate, X509_get_subject_name(certificate));
  X509_sign(certificate, key, EVP_sha256());
  SSL_CTX* context = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate(context, certificate);
  SSL_CTX_use_PrivateKey(context, key);
  X509_free(certificate);
  EVP_PKEY_free(key);
  return context;
}

TEST(ProbeTest, HttpsRunsTheCheckOverTls) {
  SSL_CTX* server_tls = self_signed_server();
  SSL_CTX* client_tls = SSL_CTX_new(TLS_client_method());
  {
    test::LoopbackServer server([](const std::string&) { return std::string("HTTP/1.1 200 OK\r\n\r\n"); }, server_tls);
    const ProbeResult result = run_probe(check(HealthCheckConfig::Kind::kHttps, 2000), server.endpoint(), client_tls);
    EXPECT_TRUE(result.ok) << result.detail;
    test::LoopbackServer plain([](const std::string&) { return std::string("HTTP/1.1 200 OK\r\n\r\n"); });
    EXPECT_FALSE(run_probe(check(HealthCheckConfig::Kind::kHttps, 1000), plain.endpoint(), client_tls).ok);
  }
  SSL_CTX_free(server_tls);
  SSL_CTX_free(client_tls);
}

TEST(ProbeTest, ASilentBackendTimesOut) {
  test::LoopbackServer server([](const std::string&) { return std::string("HANG"); });
  const auto started = std::chrono::steady_clock::now();
  const ProbeResult result = run_probe(check(HealthCheckConfig::Kind::kHttp, 150), server.endpoint());
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.detail, "timeout");
  EXPECT_LT(took, std::chrono::milliseconds(350));
}

TEST(HealthMonitorTest, FallAndRiseFollowTheChecks) {
  std::atomic<bool> healthy{true};
  test::LoopbackServer server([&](const std::string&) {
    return std::string(healthy ? "HTTP/1.1 200 OK\r\n\r\n" : "HTTP/1.1 500 Error\r\n\r\n");
  });
  EventLoop loop;
  std::vector<std::pair<Health, std::chrono::steady_clock::time_point>> changes;
  HealthMonitor monitor(loop, [&](const BackendHealth& backend, Health) {
    changes.emplace_back(backend.state, std::chrono::steady_clock::now());
  });
  PoolConfig pool;
  pool.name = "gw";
  pool.backends.push_back({"vm1", server.endpoint(), 1});
  pool.health = check(HealthCheckConfig::Kind::kHttp, 100);
  pool.health.interval_ms = 100;
  pool.health.fall = 3;
  pool.health.rise = 2;
  monitor.configure({pool});
  EXPECT_EQ(monitor.state("gw", server.endpoint()), Health::kUp) << "backends start up";

  const auto wait_for = [&](size_t count, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    const auto tick = [&](auto& self) -> void {
      if (changes.size() >= count || std::chrono::steady_clock::now() > deadline) {
        loop.stop();
        return;
      }
      loop.after(std::chrono::milliseconds(10), [&] { self(self); });
    };
    tick(tick);
    loop.run();
  };
  wait_for(1, std::chrono::milliseconds(500));
  EXPECT_TRUE(changes.empty()) << "a healthy backend stays up";
  healthy = false;
  const auto failed_at = std::chrono::steady_clock::now();
  wait_for(1, std::chrono::seconds(3));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].first, Health::kDown);
  // fall x interval (with up to 10% jitter each), plus the check already in flight, plus
  // slack for a loaded test machine.
  EXPECT_LT(changes[0].second - failed_at, std::chrono::milliseconds(3 * 110 + 110 + 300));
  EXPECT_EQ(monitor.state("gw", server.endpoint()), Health::kDown);
  healthy = true;
  const auto recovered_at = std::chrono::steady_clock::now();
  wait_for(2, std::chrono::seconds(3));
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[1].first, Health::kUp);
  EXPECT_LT(changes[1].second - recovered_at, std::chrono::milliseconds(2 * 110 + 110 + 300));
  EXPECT_GE(monitor.checks_run(), 8u);
}

// Runs `loop` for `duration`, then returns.
void run_for(EventLoop& loop, std::chrono::milliseconds duration) {
  loop.after(duration, [&] { loop.stop(); });
  loop.run();
}

TEST(HealthMonitorTest, RefusedConnectionsTakeABackendDownForFailTimeout) {
  // nginx's max_fails / fail_timeout: without any active check.
  EventLoop loop;
  std::vector<Health> changes;
  HealthMonitor monitor(loop, [&](const BackendHealth& backend, Health) { changes.push_back(backend.state); });
  PoolConfig pool;
  pool.name = "gw";
  const Endpoint dead = *Endpoint::parse("127.0.0.1:9");
  pool.backends.push_back({"vm1", dead, 1});
  pool.health.kind = HealthCheckConfig::Kind::kNone;
  pool.health.max_fails = 2;
  pool.health.fail_timeout_ms = 200;
  monitor.configure({pool});
  monitor.passive_failure("gw", dead);
  EXPECT_EQ(monitor.state("gw", dead), Health::kUp) << "one refusal of max_fails 2";
  monitor.passive_failure("gw", dead);
  ASSERT_EQ(changes, std::vector<Health>{Health::kDown});
  const auto snapshot = monitor.snapshot();
  EXPECT_TRUE(snapshot[0].passive);
  EXPECT_EQ(snapshot[0].passive_failures, 2u);
  monitor.passive_failure("gw", dead);  // already down: counted, no new change
  EXPECT_EQ(changes.size(), 1u);
  run_for(loop, std::chrono::milliseconds(350));
  EXPECT_EQ(changes, (std::vector<Health>{Health::kDown, Health::kUp})) << "back after fail_timeout";

  // Refusals further apart than fail_timeout never add up.
  monitor.passive_failure("gw", dead);
  run_for(loop, std::chrono::milliseconds(250));
  monitor.passive_failure("gw", dead);
  EXPECT_EQ(monitor.state("gw", dead), Health::kUp);

  pool.health.max_fails = 0;  // off
  monitor.configure({pool});
  for (int i = 0; i < 5; ++i) monitor.passive_failure("gw", dead);
  EXPECT_EQ(monitor.state("gw", dead), Health::kUp);
  monitor.passive_failure("other", dead);  // an unknown pool: ignored
}

TEST(HealthMonitorTest, APassingCheckEndsAPassiveDown) {
  test::LoopbackServer server([](const std::string&) { return std::string("HTTP/1.1 200 OK\r\n\r\n"); });
  EventLoop loop;
  std::vector<Health> changes;
  HealthMonitor monitor(loop, [&](const BackendHealth& backend, Health) { changes.push_back(backend.state); });
  PoolConfig pool;
  pool.name = "gw";
  pool.backends.push_back({"vm1", server.endpoint(), 1});
  pool.health = check(HealthCheckConfig::Kind::kHttp, 100);
  pool.health.interval_ms = 100;
  pool.health.rise = 3;
  pool.health.max_fails = 1;
  pool.health.fail_timeout_ms = 60000;
  monitor.configure({pool});
  monitor.passive_failure("gw", server.endpoint());
  EXPECT_EQ(monitor.state("gw", server.endpoint()), Health::kDown);
  run_for(loop, std::chrono::milliseconds(400));
  EXPECT_EQ(changes, (std::vector<Health>{Health::kDown, Health::kUp}))
      << "the first passing check brings it back, long before fail_timeout, without waiting for rise";
}

}  // namespace
}  // namespace eclb::ctl
