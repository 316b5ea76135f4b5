// Config: the model of an eclb configuration file (VIPs, pools of backends, the table
// region), as eclb-control and its tests use it. Parsing and validation live in
// config_loader.h; this header is plain data.
#pragma once

#include <cstdint>
#include <array>
#include <optional>
#include <string>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"
#include "common/table_layout.h"
#include "abi/table_region.h"

namespace eclb {

struct BackendConfig {
  std::string name;  // defaults to the endpoint text
  Endpoint endpoint;
  uint32_t weight = 1;
};

// How a pool's backends are probed. A backend leaves the table after `fall` failed
// checks in a row and returns after `rise` good ones.
struct HealthCheckConfig {
  enum class Kind : uint8_t { kNone, kTcp, kHttp, kHttps, kWebSocket };
  Kind kind = Kind::kNone;      // kNone: backends are always up
  std::string path = "/";       // HTTP(S) and WebSocket
  std::string host;             // Host header; default: the backend address
  uint16_t expect_status = 200;  // HTTP(S): the status that means healthy (WebSocket: 101)
  bool tls = false;             // WebSocket over TLS (wss)
  uint32_t interval_ms = 2000;
  uint32_t timeout_ms = 1000;
  uint32_t rise = 2;
  uint32_t fall = 3;
  // Passive health (nginx max_fails / fail_timeout): a backend that refuses max_fails of
  // the L7 proxy's connections within fail_timeout_ms is down for new flows for
  // fail_timeout_ms, or until an active check passes. 0: off.
  uint32_t max_fails = 1;
  uint32_t fail_timeout_ms = 10000;
};

struct PoolConfig {
  std::string name;
  std::vector<BackendConfig> backends;
  HealthCheckConfig health;
};

struct TlsCertificateConfig {
  std::string cert_path;  // PEM: certificate, then its chain
  std::string key_path;   // PEM private key
};

// What a VIP of mode `l7` does beyond routing (control/l7): the proxy in eclb-control
// listens on the VIP address itself, through the kernel's TCP stack.
struct L7VipConfig {
  // Empty: plain HTTP (the nginx image's non-TLS mode). Otherwise TLS 1.2+, the
  // certificate chosen by SNI among these (the first one when no name matches).
  std::vector<TlsCertificateConfig> certificates;
  uint16_t redirect_port = 0;   // with TLS: also listen here, answering 301 to https://
  std::string redirect_host;    // the redirect's host; empty: the request's Host header
  bool proxy_protocol = false;  // send a PROXY protocol v2 header to the backend first
  // TLS session tickets issued per full handshake (0: no resumption). OpenSSL's default
  // is 2, for clients that open parallel connections; an agent holds one connection per
  // gateway and resumes it after a drop, so one is enough, and each ticket costs about
  // a tenth of a handshake's server CPU (bench/micro/tls_handshake_bench).
  uint32_t session_tickets = 1;
};

// Limits of the L7 proxy, for all its VIPs.
struct L7Config {
  uint32_t idle_timeout_s = 86400;        // no byte either way: close (agents idle for hours)
  uint32_t handshake_timeout_ms = 10000;  // accept -> complete request head, TLS included
  uint32_t connect_timeout_ms = 5000;     // towards the gateway
  uint32_t max_header_bytes = 16384;      // request line and headers; more: 431
  uint32_t max_connections = 50000;       // client connections; more are refused at accept
  // Event loops serving the L7 VIPs, each on its own thread (handshakes are CPU work: one
  // loop serves about one core's worth). 0: one per CPU the process may run on. Read at
  // start; a reload keeps the running count.
  uint32_t threads = 0;
};

struct VipConfig {
  std::string name;
  Endpoint endpoint;  // VIP address and port
  abi::L4Protocol protocol = abi::L4Protocol::kTcp;
  abi::ForwardMode mode = abi::ForwardMode::kFullNat;
  std::string pool;
  uint32_t table_size = abi::kDefaultTableSize;
  L7VipConfig l7;  // mode kL7Proxy only
};

struct TablesConfig {
  std::string segment = "/dev/shm/eclb-tables";
  TableCapacity capacity;
  // Seed of the flow hash (abi/flow_hash.h). The same on every host of a
  // deployment, never random per process: it decides which backend a flow maps to.
  uint64_t flow_hash_seed = 0x65636c622d666c77ULL;  // "eclb-flw"
};

// One DPDK port of eclb-dataplane (one-armed: VIP traffic leaves by the port it came in).
struct DataplanePortConfig {
  uint16_t id = 0;                  // DPDK port id (order of --vdev / PCI devices)
  std::optional<IpPrefix> ipv4;     // local address (tunnel source, ARP target) and on-link subnet
  std::optional<IpPrefix> ipv6;
  std::optional<IpAddress> gateway_ipv4;  // next hop for backends outside the subnet
  std::optional<IpAddress> gateway_ipv6;
  uint16_t mtu = 0;                 // 0: the port's own MTU
  // Full NAT: local addresses clients are translated to towards backends (default: the
  // port's own ipv4/ipv6 address), and the local port range.
  std::vector<IpAddress> nat_ipv4;
  std::vector<IpAddress> nat_ipv6;
  uint16_t nat_port_first = 1024;
  uint16_t nat_port_last = 65535;
  // Permanent neighbour entries (no ARP/ND for these addresses), e.g. a gateway whose
  // MAC never changes, or tests that replay captures.
  std::vector<std::pair<IpAddress, std::array<uint8_t, 6>>> static_neighbours;
  // For a port DPDK owns entirely (a vfio NIC): a TAP (net_tap) or virtio-user port that
  // stands for the host's kernel. What the dataplane does not serve (host traffic, L7
  // VIPs, ARP/ND for other addresses) goes there, and what the kernel sends comes back
  // out of this port. Unset: such traffic is dropped and counted.
  std::optional<uint16_t> exception_port;
};

// "02:00:00:00:00:01" -> bytes.
Result<std::array<uint8_t, 6>> parse_mac(std::string_view text);

struct DataplaneConfig {
  std::vector<DataplanePortConfig> ports;
  uint32_t flows_per_worker = 1u << 20;  // flow entries per worker lcore (rounded up to 8 x 2^k)
  std::string flows_path = "/dev/hugepages/eclb-flows";
  std::string stats_path = "/dev/shm/eclb-stats";
  uint16_t gue_port = 6080;
  bool gue_ipv6_zero_checksum = false;  // dsr-gue over IPv6: UDP checksum 0 (RFC 6935/6936)
  uint16_t tcp_mss_clamp = 0;    // fullnat: clamp the MSS of SYNs towards backends (0: off)
  uint32_t timeout_tcp_syn_s = 10;
  uint32_t timeout_tcp_established_s = 2 * 86400;
  uint32_t timeout_tcp_closing_s = 15;
  uint32_t timeout_tcp_closed_s = 5;
  uint32_t timeout_udp_s = 60;
  uint32_t guard_rate = 10000;   // established entries that may be displaced per second
  uint32_t guard_burst = 20000;
  // 0: workers poll without pause (dedicated cores). N: a worker that found nothing to do
  // for 64 rounds in a row sleeps N microseconds between rounds until traffic comes back
  // (shared cores, VMs, tests running several dataplanes on one machine); the first
  // packet after a quiet spell waits up to N us.
  uint32_t idle_sleep_us = 0;
};

struct ControlConfig {
  std::string admin_socket = "/run/eclb/admin.sock";  // mode 0600, or 0660 with admin_group
  // Members of this group may use the admin socket (eclbctl without root): the socket is
  // made 0660 and given this group. Empty: owner only (0600).
  std::string admin_group;
  std::string metrics_listen = "127.0.0.1:9469";      // Prometheus text; "" = off
  uint32_t grace_ms = 1000;  // longest wait for dataplane workers before reusing a table copy
};

// What this host announces to its routers (control/announce): BIRD announces a VIP
// address while eclb-control says this host can serve every VIP on it. eclb-control
// writes the routes to `include_path` (two static protocols, eclb_vips4 and eclb_vips6,
// which BIRD's own config includes and exports) and asks BIRD to reconfigure through its
// control socket.
struct AnnounceConfig {
  std::string bird_socket;  // BIRD's control socket; empty: announcements are off
  std::string include_path = "/run/eclb/bird-vips.conf";
  uint32_t min_up = 1;                   // healthy backends a VIP needs
  uint32_t heartbeat_timeout_ms = 1000;  // an older dataplane heartbeat: not forwarding
  // Withdraw while backends down here are up at the peers (cluster.peers) that announce
  // the same VIP: this host is cut off from them, not they dead (peer_views.h).
  bool peer_check = true;
};

// The other eclb hosts of a tier, for `eclbctl cluster` (read-only): each one's metrics
// listener, which also serves the host's state as JSON at /state.
struct ClusterPeerConfig {
  std::string name;
  Endpoint address;
};

struct ClusterConfig {
  std::string name;  // this host's name in the cluster view (default: the host name)
  std::vector<ClusterPeerConfig> peers;
  uint32_t timeout_ms = 1000;  // per peer
};

struct Config {
  std::string source;  // file the config came from, for messages
  TablesConfig tables;
  ControlConfig control;
  DataplaneConfig dataplane;
  std::vector<PoolConfig> pools;
  std::vector<VipConfig> vips;
  L7Config l7;
  AnnounceConfig announce;
  ClusterConfig cluster;

  const PoolConfig* find_pool(const std::string& name) const;
};

std::string_view to_string(abi::ForwardMode mode);
std::string_view to_string(abi::L4Protocol protocol);
std::string_view to_string(abi::BackendState state);
std::string_view to_string(HealthCheckConfig::Kind kind);

}  // namespace eclb
