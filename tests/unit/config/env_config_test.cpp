// environment.env input: the nginx image's GATEWAY_LIST and DNS_NAME become a pool and a VIP.
#include "config/env_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "config/config_loader.h"
#include "tests/unit/support/temp_dir.h"

namespace eclb {
namespace {

using ::testing::HasSubstr;

std::string write(const test::TempDir& dir, const std::string& text) {
  const std::string path = dir.file("environment.env");
  std::ofstream(path) << text;
  return path;
}

TEST(EnvConfigTest, GatewayListBecomesVmNamesInOrder) {
  test::TempDir dir;
  const auto path = write(dir, "# the nginx image's file\nexport GATEWAY_LIST=\"10.0.0.21:8080 10.0.0.22:8080  10.0.0.23:9090\"\n"
                               "DNS_NAME=watchers.example.com\nECLB_VIP='10.0.0.100'\n");
  auto env = read_env_file(path);
  ASSERT_TRUE(env.ok()) << env.error().message;
  auto config = config_from_env(*env, path, Config{});
  ASSERT_TRUE(config.ok()) << config.error().message;
  const PoolConfig* pool = config->find_pool("gateways");
  ASSERT_NE(pool, nullptr);
  ASSERT_EQ(pool->backends.size(), 3u);
  EXPECT_EQ(pool->backends[0].name, "vm1");
  EXPECT_EQ(pool->backends[2].name, "vm3");
  EXPECT_EQ(pool->backends[2].endpoint.to_string(), "10.0.0.23:9090");
  ASSERT_EQ(config->vips.size(), 1u);
  EXPECT_EQ(config->vips[0].endpoint.to_string(), "10.0.0.100:80");
  EXPECT_EQ(config->vips[0].mode, abi::ForwardMode::kFullNat);
}

TEST(EnvConfigTest, TheBaseConfigSuppliesTheRestAndTheGatewayHealthCheck) {
  test::TempDir dir;
  auto base = parse_config("tables: { segment: /dev/shm/x }\npools:\n  gateways:\n"
                           "    health: { check: websocket, path: /agent }\n    backends: []\n", "base.yaml");
  ASSERT_TRUE(base.ok()) << base.error().message;
  const auto path = write(dir, "GATEWAY_LIST=10.0.0.21:8080\nECLB_VIP=10.0.0.100\nECLB_VIP_PORT=8443\nECLB_MODE=dsr-gue\n");
  auto config = config_from_env(*read_env_file(path), path, *base);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->tables.segment, "/dev/shm/x");
  EXPECT_EQ(config->find_pool("gateways")->health.kind, HealthCheckConfig::Kind::kWebSocket);
  EXPECT_EQ(config->find_pool("gateways")->health.path, "/agent");
  EXPECT_EQ(config->vips[0].endpoint.port, 8443);
  EXPECT_EQ(config->vips[0].mode, abi::ForwardMode::kDsrGue);
}

TEST(EnvConfigTest, WithoutABaseGatewaysPoolTheGatewaysGetATcpCheck) {
  // Env-only mode must not run blind: a dead gateway is taken out by the active check.
  test::TempDir dir;
  const auto path = write(dir, "GATEWAY_LIST=10.0.0.21:8080\nECLB_VIP=10.0.0.100\n");
  auto config = config_from_env(*read_env_file(path), path, Config{});
  ASSERT_TRUE(config.ok()) << config.error().message;
  const HealthCheckConfig& health = config->find_pool("gateways")->health;
  EXPECT_EQ(health.kind, HealthCheckConfig::Kind::kTcp);
  EXPECT_EQ(health.interval_ms, 1000u);
  EXPECT_EQ(health.timeout_ms, 500u);
  EXPECT_EQ(health.max_fails, 1u);
}

TEST(EnvConfigTest, ABaseGatewaysPoolNeedsNoBackendsList) {
  test::TempDir dir;
  auto base = parse_config("pools:\n  gateways:\n    health: { check: websocket, path: /agent, max_fails: 2, "
                           "fail_timeout_ms: 5000 }\n", "base.yaml");
  ASSERT_TRUE(base.ok()) << base.error().message;
  const auto path = write(dir, "GATEWAY_LIST=10.0.0.21:8080\nECLB_VIP=10.0.0.100\n");
  auto config = config_from_env(*read_env_file(path), path, *base);
  ASSERT_TRUE(config.ok()) << config.error().message;
  const PoolConfig* pool = config->find_pool("gateways");
  EXPECT_EQ(pool->health.kind, HealthCheckConfig::Kind::kWebSocket);
  EXPECT_EQ(pool->health.max_fails, 2u);
  EXPECT_EQ(pool->health.fail_timeout_ms, 5000u);
  EXPECT_EQ(pool->backends.size(), 1u);
}

TEST(EnvConfigTest, DnsNameResolvesWhenNoVipIsGiven) {
  test::TempDir dir;
  const auto path = write(dir, "GATEWAY_LIST=127.0.0.2:8080\nDNS_NAME=localhost\n");
  auto config = config_from_env(*read_env_file(path), path, Config{});
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->vips[0].endpoint.address.to_string(), "127.0.0.1");
}

TEST(EnvConfigTest, ErrorsNameTheFileAndTheProblem) {
  test::TempDir dir;
  EXPECT_THAT(config_from_env(*read_env_file(write(dir, "DNS_NAME=x\n")), "e.env", Config{}).error().message,
              HasSubstr("e.env: GATEWAY_LIST is missing or empty"));
  EXPECT_THAT(config_from_env(*read_env_file(write(dir, "GATEWAY_LIST=10.0.0.1\nECLB_VIP=10.0.0.100\n")), "e.env", Config{})
                  .error()
                  .message,
              HasSubstr("e.env:1: GATEWAY_LIST: invalid endpoint \"10.0.0.1\""));
  EXPECT_THAT(config_from_env(*read_env_file(write(dir, "GATEWAY_LIST=10.0.0.1:80 10.0.0.1:80\nECLB_VIP=10.0.0.100\n")),
                              "e.env", Config{})
                  .error()
                  .message,
              HasSubstr("listed twice"));
  EXPECT_THAT(config_from_env(*read_env_file(write(dir, "GATEWAY_LIST=10.0.0.1:80\n")), "e.env", Config{}).error().message,
              HasSubstr("neither ECLB_VIP nor DNS_NAME"));
  EXPECT_EQ(config_from_env(*read_env_file(write(dir, "# gateways\nDNS_NAME=x\nGATEWAY_LIST=127.0.0.1:18081 127.0.0.1:18081\n")),
                            "environment.env", Config{})
                .error()
                .message,
            "environment.env:3: GATEWAY_LIST: 127.0.0.1:18081 is listed twice");
  EXPECT_THAT(read_env_file(write(dir, "GATEWAY_LIST\n")).error().message, HasSubstr("environment.env:1: expected KEY=VALUE"));
  // Names as Docker's env-file reader takes them: a variable name, nothing around it.
  for (const char* line : {"1GATEWAY=x", "GATEWAY LIST=x", "GATEWAY-LIST=x", "=x", "DNS_NAME =x"}) {
    auto bad = read_env_file(write(dir, "DNS_NAME=x\n" + std::string(line) + "\n"));
    ASSERT_FALSE(bad.ok()) << line;
    EXPECT_THAT(bad.error().message, HasSubstr("environment.env:2: ")) << line;
  }
  EXPECT_THAT(read_env_file(write(dir, "\nA=\"open\n")).error().message, HasSubstr("environment.env:2: A: unterminated quote"));
}

TEST(EnvConfigTest, HealthAndControlSectionsValidate) {
  auto bad = parse_config("pools:\n  p:\n    health: { check: ping }\n    backends: []\n", "t.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "t.yaml:3: pools.p.health.check: unknown check \"ping\" (none, tcp, http, https, websocket)");
  auto slow = parse_config("pools:\n  p:\n    health: { check: tcp, interval_ms: 100, timeout_ms: 500 }\n    backends: []\n", "t.yaml");
  ASSERT_FALSE(slow.ok());
  EXPECT_THAT(slow.error().message, HasSubstr("timeout_ms: must not exceed interval_ms"));
  auto metrics = parse_config("control: { metrics: localhost:9 }\n", "t.yaml");
  ASSERT_FALSE(metrics.ok());
  EXPECT_THAT(metrics.error().message, HasSubstr("t.yaml:1: control.metrics:"));
}

TEST(EnvConfigTest, TheImageCertificateBesideTheFileMakesTheTlsListenerWithRedirect) {
  test::TempDir dir;
  std::ofstream(dir.file("cert.crt")) << "certificate\n";
  std::ofstream(dir.file("certkey.key")) << "key\n";
  const auto path = write(dir, "GATEWAY_LIST=\"10.0.0.21:8080 10.0.0.22:8080\"\nDNS_NAME=watchers.example.com\nECLB_VIP=10.0.0.100\n");
  auto config = config_from_env(*read_env_file(path), path, Config{});
  ASSERT_TRUE(config.ok()) << config.error().message;
  const VipConfig& vip = config->vips[0];
  EXPECT_EQ(vip.mode, abi::ForwardMode::kL7Proxy);
  EXPECT_EQ(vip.endpoint.to_string(), "10.0.0.100:443");
  ASSERT_EQ(vip.l7.certificates.size(), 1u);
  EXPECT_EQ(vip.l7.certificates[0].cert_path, dir.file("cert.crt"));
  EXPECT_EQ(vip.l7.certificates[0].key_path, dir.file("certkey.key"));
  EXPECT_EQ(vip.l7.redirect_port, 80);
  EXPECT_EQ(vip.l7.redirect_host, "watchers.example.com");
}

TEST(EnvConfigTest, NonTlsL7ModeAndCertificateErrors) {
  test::TempDir dir;
  auto path = write(dir, "GATEWAY_LIST=10.0.0.21:8080\nECLB_VIP=10.0.0.100\nECLB_MODE=l7\n");
  auto config = config_from_env(*read_env_file(path), path, Config{});
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->vips[0].mode, abi::ForwardMode::kL7Proxy);
  EXPECT_EQ(config->vips[0].endpoint.port, 80);
  EXPECT_TRUE(config->vips[0].l7.certificates.empty());
  EXPECT_EQ(config->vips[0].l7.redirect_port, 0);

  path = write(dir, "GATEWAY_LIST=10.0.0.21:8080\nECLB_VIP=10.0.0.100\nECLB_TLS_CERT=/nonexistent/c.crt\n");
  auto half = config_from_env(*read_env_file(path), path, Config{});
  ASSERT_FALSE(half.ok());
  EXPECT_THAT(half.error().message, HasSubstr("set both ECLB_TLS_CERT and ECLB_TLS_KEY"));

  std::ofstream(dir.file("cert.crt")) << "certificate\n";  // the key is missing
  path = write(dir, "GATEWAY_LIST=10.0.0.21:8080\nECLB_VIP=10.0.0.100\n");
  auto missing = config_from_env(*read_env_file(path), path, Config{});
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr("cannot read the certificate key"));
}

}  // namespace
}  // namespace eclb
