// Config loading: the examples stay valid; every error names file, line and field.
#include "config/config_loader.h"
#include "config/env_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace eclb {
namespace {

using ::testing::HasSubstr;

constexpr const char* kValid = R"(tables:
  segment: /dev/shm/test-tables
  max_vips: 8
pools:
  gateways:
    backends:
      - { name: vm1, address: 10.0.0.1, port: 8080 }
      - { name: vm2, address: 10.0.0.2, port: 8080, weight: 3 }
  v6:
    backends:
      - { address: "2001:db8::1", port: 80 }
vips:
  - name: web
    address: 10.0.0.100
    port: 443
    mode: dsr-gue
    pool: gateways
  - name: web6
    address: "2001:db8::100"
    port: 80
    protocol: udp
    pool: v6
    table_size: 251
)";

std::string error_of(const std::string& yaml) {
  auto config = parse_config(yaml, "test.yaml");
  EXPECT_FALSE(config.ok());
  return config.ok() ? std::string() : config.error().message;
}

TEST(ConfigLoaderTest, ParsesAValidConfig) {
  auto config = parse_config(kValid, "test.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->tables.segment, "/dev/shm/test-tables");
  EXPECT_EQ(config->tables.capacity.max_vips, 8u);
  ASSERT_EQ(config->vips.size(), 2u);
  EXPECT_EQ(config->vips[0].mode, abi::ForwardMode::kDsrGue);
  EXPECT_EQ(config->vips[0].protocol, abi::L4Protocol::kTcp);
  EXPECT_EQ(config->vips[0].table_size, 65537u);
  EXPECT_EQ(config->vips[1].mode, abi::ForwardMode::kFullNat);
  EXPECT_EQ(config->vips[1].protocol, abi::L4Protocol::kUdp);
  const PoolConfig* pool = config->find_pool("gateways");
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(pool->backends[1].weight, 3u);
  EXPECT_EQ(config->find_pool("v6")->backends[0].name, "[2001:db8::1]:80");
}

TEST(ConfigLoaderTest, ExampleConfigsAreValid) {
  // eclb.yaml is the package's default /etc/eclb/eclb.yaml.
  for (const char* example : {"fullnat.yaml", "dsr-ipip.yaml", "dsr-gue.yaml", "eclb.yaml"}) {
    auto config = load_config_file(std::string(ECLB_SOURCE_DIR "/examples/") + example);
    EXPECT_TRUE(config.ok()) << example << ": " << config.error().message;
  }
}

TEST(ConfigLoaderTest, UnknownKeysAreErrorsWithLineAndField) {
  EXPECT_EQ(error_of("pools:\n  p:\n    backends:\n      - { address: 10.0.0.1, port: 80, wieght: 2 }\n"),
            "test.yaml:4: pools.p.backends[0].wieght: unknown key (allowed: name, address, port, weight)");
  EXPECT_THAT(error_of("vip:\n  - name: x\n"), HasSubstr("test.yaml:1: vip: unknown key"));
}

TEST(ConfigLoaderTest, BadValuesNameLineAndField) {
  const std::string pool = "pools:\n  p:\n    backends:\n      - { address: 10.0.0.1, port: 80 }\n";
  EXPECT_EQ(error_of(pool + "vips:\n  - { name: v, address: 10.0.0.9, port: 0, pool: p }\n"),
            "test.yaml:6: vips[0].port: 0 is out of range 1-65535");
  EXPECT_EQ(error_of(pool + "vips:\n  - { name: v, address: 10.0.0.9, port: 80, pool: p, table_size: 65536 }\n"),
            "test.yaml:6: vips[0].table_size: 65536 is not prime (Maglev needs a prime)");
  EXPECT_EQ(error_of(pool + "vips:\n  - { name: v, address: 10.0.0.9, port: 80, pool: q }\n"),
            "test.yaml:6: vips[0].pool: no pool named \"q\"");
  EXPECT_EQ(error_of(pool + "vips:\n  - { name: v, address: 10.0.0.300, port: 80, pool: p }\n"),
            "test.yaml:6: vips[0].address: invalid IP address \"10.0.0.300\"");
  EXPECT_EQ(error_of(pool + "vips:\n  - { name: v, address: 10.0.0.9, port: 80, pool: p, mode: nat }\n"),
            "test.yaml:6: vips[0].mode: unknown mode \"nat\" (expected fullnat, dsr-ipip, dsr-gue or l7)");
  EXPECT_EQ(error_of(pool + "vips:\n  - { name: v, address: \"2001:db8::1\", port: 80, pool: p }\n"),
            "test.yaml:6: vips[0].address: VIP is IPv6 but backend 10.0.0.1:80 of pool \"p\" is IPv4");
  EXPECT_EQ(error_of(pool + "vips:\n  - { address: 10.0.0.9, port: 80, pool: p }\n"), "test.yaml:6: vips[0].name: missing");
  EXPECT_THAT(error_of(pool + "vips:\n  - { name: a, address: 10.0.0.9, port: 80, pool: p }\n"
                              "  - { name: b, address: 10.0.0.9, port: 80, pool: p }\n"),
              HasSubstr("test.yaml:7: vips[1]: duplicate VIP tcp 10.0.0.9:80"));
}

TEST(ConfigLoaderTest, DuplicateBackendsAndWeightRange) {
  EXPECT_EQ(error_of("pools:\n  p:\n    backends:\n      - { address: 10.0.0.1, port: 80 }\n"
                     "      - { address: 10.0.0.1, port: 80, name: other }\n"),
            "test.yaml:5: pools.p.backends[1]: duplicate backend 10.0.0.1:80 in the pool");
  EXPECT_EQ(error_of("pools:\n  p:\n    backends:\n      - { address: 10.0.0.1, port: 80, weight: -1 }\n"),
            "test.yaml:4: pools.p.backends[0].weight: expected a non-negative integer, got \"-1\"");
}

TEST(ConfigLoaderTest, CapacityIsChecked) {
  EXPECT_EQ(error_of("tables: { max_table_slots: 100 }\npools:\n  p:\n    backends:\n"
                     "      - { address: 10.0.0.1, port: 80 }\nvips:\n"
                     "  - { name: v, address: 10.0.0.9, port: 80, pool: p, table_size: 101 }\n"),
            "test.yaml:7: vips: 101 table slots exceed tables.max_table_slots 100");
}

TEST(ConfigLoaderTest, L7VipsAndTheirErrors) {
  const std::string pool = "pools:\n  p:\n    backends:\n      - { address: 10.0.0.1, port: 80 }\n";
  auto config = parse_config(pool + "l7: { idle_timeout_s: 7200, max_header_bytes: 8192, threads: 3 }\n"
                                    "vips:\n  - { name: v, address: 10.0.0.9, port: 8000, mode: l7, pool: p,\n"
                                    "      l7: { proxy_protocol: true } }\n",
                             "test.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->vips[0].mode, abi::ForwardMode::kL7Proxy);
  EXPECT_TRUE(config->vips[0].l7.proxy_protocol);
  EXPECT_TRUE(config->vips[0].l7.certificates.empty());
  EXPECT_EQ(config->l7.idle_timeout_s, 7200u);
  EXPECT_EQ(config->l7.max_header_bytes, 8192u);
  EXPECT_EQ(config->l7.threads, 3u);
  EXPECT_EQ(error_of(pool + "l7: { threads: 300 }\n"), "test.yaml:5: l7.threads: 300 is out of range 0-256");
  EXPECT_EQ(config->l7.handshake_timeout_ms, 10000u);
  EXPECT_EQ(error_of(pool + "vips:\n  - { name: v, address: 10.0.0.9, port: 80, pool: p, l7: { proxy_protocol: true } }\n"),
            "test.yaml:6: vips[0].l7: only VIPs of mode l7 take l7 settings");
  EXPECT_EQ(error_of(pool + "vips:\n  - { name: v, address: 10.0.0.9, port: 80, mode: l7, pool: p,\n"
                            "      l7: { tls: [ { cert: /nonexistent.crt, key: /nonexistent.key } ] } }\n"),
            "test.yaml:7: vips[0].l7.tls[0].cert: cannot read /nonexistent.crt: No such file or directory");
  EXPECT_EQ(error_of(pool + "vips:\n  - { name: v, address: 10.0.0.9, port: 80, mode: l7, pool: p, l7: { redirect_port: 8080 } }\n"),
            "test.yaml:6: vips[0].l7.redirect_port: needs tls (it redirects to https)");
  EXPECT_EQ(config->vips[0].l7.session_tickets, 1u);
  // Readable files are all the loader asks of cert and key; the proxy parses them.
  const std::string tls = "      l7: { tls: [ { cert: /etc/os-release, key: /etc/os-release } ], ";
  auto tickets = parse_config(pool + "vips:\n  - { name: v, address: 10.0.0.9, port: 443, mode: l7, pool: p,\n" + tls +
                                  "session_tickets: 0 } }\n",
                              "test.yaml");
  ASSERT_TRUE(tickets.ok()) << tickets.error().message;
  EXPECT_EQ(tickets->vips[0].l7.session_tickets, 0u);
  EXPECT_EQ(error_of(pool + "vips:\n  - { name: v, address: 10.0.0.9, port: 443, mode: l7, pool: p,\n" + tls +
                     "session_tickets: 9 } }\n"),
            "test.yaml:7: vips[0].l7.session_tickets: 9 is out of range 0-8");
  EXPECT_EQ(error_of(pool + "vips:\n  - { name: v, address: 10.0.0.9, port: 80, mode: l7, pool: p, l7: { session_tickets: 2 } }\n"),
            "test.yaml:6: vips[0].l7.session_tickets: needs tls");
  EXPECT_EQ(error_of(pool + "vips:\n  - { name: v, address: 10.0.0.9, port: 53, protocol: udp, mode: l7, pool: p }\n"),
            "test.yaml:6: vips[0].protocol: mode l7 is TCP only");
  EXPECT_EQ(error_of(pool + "l7: { idle_timeout: 5 }\n"), "test.yaml:5: l7.idle_timeout: unknown key (allowed: "
            "idle_timeout_s, handshake_timeout_ms, connect_timeout_ms, max_header_bytes, max_connections, threads)");
}

TEST(ConfigLoaderTest, ExceptionPorts) {
  auto config = parse_config("dataplane:\n  ports:\n    - { id: 0, exception_port: 2 }\n    - { id: 1 }\n", "test.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->dataplane.ports[0].exception_port, 2);
  EXPECT_FALSE(config->dataplane.ports[1].exception_port.has_value());
  EXPECT_EQ(error_of("dataplane:\n  ports:\n    - { id: 0, exception_port: 1 }\n    - { id: 1 }\n"),
            "test.yaml:3: dataplane.ports[0].exception_port: is a forwarding port");
  EXPECT_EQ(error_of("dataplane:\n  ports:\n    - { id: 0, exception_port: 0 }\n"),
            "test.yaml:3: dataplane.ports[0].exception_port: must be another port");
  EXPECT_EQ(error_of("dataplane:\n  ports:\n    - { id: 0, exception_port: 5 }\n    - { id: 1, exception_port: 5 }\n"),
            "test.yaml:4: dataplane.ports[1].exception_port: already serves another port");
}

TEST(ConfigLoaderTest, AnnouncementsAndIdleSleep) {
  auto config = parse_config("announce: { bird_socket: /run/bird/bird.ctl, include: /run/eclb/vips.conf, min_up: 2 }\n"
                             "dataplane: { idle_sleep_us: 200 }\n",
                             "t.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->announce.bird_socket, "/run/bird/bird.ctl");
  EXPECT_EQ(config->announce.include_path, "/run/eclb/vips.conf");
  EXPECT_EQ(config->announce.min_up, 2u);
  EXPECT_EQ(config->announce.heartbeat_timeout_ms, 1000u);
  EXPECT_TRUE(config->announce.peer_check) << "on by default: it acts only with cluster.peers";
  EXPECT_FALSE(config->dataplane.gue_ipv6_zero_checksum) << "the RFC 8200 default: computed";
  EXPECT_TRUE(parse_config("dataplane: { gue_ipv6_zero_checksum: true }\n", "t.yaml")->dataplane.gue_ipv6_zero_checksum);
  EXPECT_FALSE(parse_config("announce: { bird_socket: /b, peer_check: false }\n", "t.yaml")->announce.peer_check);
  EXPECT_THAT(parse_config("announce: { bird_socket: /b, peer_check: sometimes }\n", "t.yaml").error().message,
              HasSubstr("announce.peer_check"));
  EXPECT_EQ(config->dataplane.idle_sleep_us, 200u);
  EXPECT_TRUE(parse_config("tables: {}\n", "t.yaml")->announce.bird_socket.empty()) << "off unless configured";
  EXPECT_EQ(parse_config("announce: { include: /x.conf }\n", "t.yaml").error().message,
            "t.yaml:1: announce.include: set announce.bird_socket too: BIRD must be told to re-read it");
  EXPECT_EQ(parse_config("announce: { bird_socket: bird.ctl }\n", "t.yaml").error().message,
            "t.yaml:1: announce.bird_socket: must be an absolute path of at most 107 characters");
  EXPECT_THAT(parse_config("announce: { bird_socket: /b, min_up: 0 }\n", "t.yaml").error().message,
              HasSubstr("announce.min_up: 0 is out of range"));
  EXPECT_THAT(parse_config("dataplane: { idle_sleep_us: 20000 }\n", "t.yaml").error().message,
              HasSubstr("dataplane.idle_sleep_us: 20000 is out of range 0-10000"));
}

TEST(ConfigLoaderTest, ClusterPeers) {
  auto config = parse_config("cluster:\n  name: lb1\n  peers:\n    - { name: lb2, address: 10.0.0.12:9469 }\n", "t.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->cluster.name, "lb1");
  ASSERT_EQ(config->cluster.peers.size(), 1u);
  EXPECT_EQ(config->cluster.peers[0].address.to_string(), "10.0.0.12:9469");
  EXPECT_EQ(parse_config("cluster:\n  name: lb1\n  peers:\n    - { name: lb1, address: 10.0.0.12:9469 }\n", "t.yaml")
                .error()
                .message,
            "t.yaml:4: cluster.peers[0].name: \"lb1\" is named twice");
  EXPECT_THAT(parse_config("cluster: { peers: [ { name: lb2, address: 10.0.0.12 } ] }\n", "t.yaml").error().message,
              HasSubstr("cluster.peers[0].address: "));
}

TEST(ConfigLoaderTest, AdminSocketGroup) {
  auto config = parse_config("control: { admin_socket: /run/eclb/admin.sock, admin_group: eclb }\n", "t.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->control.admin_group, "eclb");
  EXPECT_TRUE(parse_config("control: { metrics: off }\n", "t.yaml")->control.admin_group.empty());
  EXPECT_THAT(parse_config("control: { admin_group: \"\" }\n", "t.yaml").error().message,
              HasSubstr("t.yaml:1: control.admin_group: must name a group"));
}

TEST(ConfigLoaderTest, SyntaxErrorsAndMissingFiles) {
  EXPECT_THAT(error_of("pools: [\n"), HasSubstr("test.yaml:2: YAML syntax error"));
  EXPECT_THAT(error_of(""), HasSubstr("empty configuration"));
  auto missing = load_config_file("/nonexistent/eclb.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "cannot read config /nonexistent/eclb.yaml: No such file or directory");
}

TEST(ConfigLoaderTest, TheExampleEnvironmentFileWorks) {
  auto env = read_env_file(ECLB_SOURCE_DIR "/examples/environment.env");
  ASSERT_TRUE(env.ok()) << env.error().message;
  auto config = config_from_env(*env, "environment.env", Config{});
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->find_pool("gateways")->backends.size(), 3u);
}

}  // namespace
}  // namespace eclb
