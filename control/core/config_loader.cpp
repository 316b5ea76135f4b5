// YAML -> Config with strict validation. Exceptions stay inside this file: yaml-cpp
// throws, and so does the private ConfigError; parse_config turns both into a Result.
#include "control/core/config_loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "control/core/prime.h"

namespace eclb::ctl {
namespace {

struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Reader {
 public:
  explicit Reader(const std::string& source) : source_(source) {}

  [[noreturn]] void fail(const YAML::Node& at, std::string_view field, std::string_view message) const {
    const int line = at.IsDefined() && at.Mark().line >= 0 ? at.Mark().line + 1 : 0;
    throw ConfigError(fmt::format("{}:{}: {}: {}", source_, line, field, message));
  }

  void expect_map(const YAML::Node& node, std::string_view field) const {
    if (!node.IsMap()) fail(node, field, "expected a mapping");
  }

  void expect_sequence(const YAML::Node& node, std::string_view field) const {
    if (!node.IsSequence()) fail(node, field, "expected a list");
  }

  // Every key of `node` must be in `allowed`.
  void check_keys(const YAML::Node& node, std::string_view field, std::initializer_list<std::string_view> allowed) const {
    for (const auto& entry : node) {
      const std::string key = entry.first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string list;
        for (const auto name : allowed) list += fmt::format("{}{}", list.empty() ? "" : ", ", name);
        fail(entry.first, join(field, key), fmt::format("unknown key (allowed: {})", list));
      }
    }
  }

  std::string scalar(const YAML::Node& node, std::string_view field) const {
    if (!node.IsScalar()) fail(node, field, "expected a scalar value");
    return node.Scalar();
  }

  std::string required_string(const YAML::Node& parent, const char* key, std::string_view field) const {
    const YAML::Node node = parent[key];
    if (!node.IsDefined() || node.IsNull()) fail(parent, join(field, key), "missing");
    return scalar(node, join(field, key));
  }

  uint64_t unsigned_value(const YAML::Node& node, std::string_view field, uint64_t min, uint64_t max) const {
    const std::string text = scalar(node, field);
    uint64_t value = 0;
    const int base = text.starts_with("0x") ? 16 : 10;
    const char* begin = text.data() + (base == 16 ? 2 : 0);
    const auto [end, ec] = std::from_chars(begin, text.data() + text.size(), value, base);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
      fail(node, field, fmt::format("expected a non-negative integer, got \"{}\"", text));
    }
    if (value < min || value > max) fail(node, field, fmt::format("{} is out of range {}-{}", value, min, max));
    return value;
  }

  uint64_t optional_unsigned(const YAML::Node& parent, const char* key, std::string_view field, uint64_t fallback,
                             uint64_t min, uint64_t max) const {
    const YAML::Node node = parent[key];
    if (!node.IsDefined()) return fallback;
    return unsigned_value(node, join(field, key), min, max);
  }

  static std::string join(std::string_view field, std::string_view key) {
    return field.empty() ? std::string(key) : fmt::format("{}.{}", field, key);
  }

 private:
  const std::string& source_;
};

void check_name(const Reader& reader, const YAML::Node& at, std::string_view field, const std::string& name,
                size_t max_bytes) {
  if (name.empty() || name.size() > max_bytes) {
    reader.fail(at, field, fmt::format("name must be 1-{} characters", max_bytes));
  }
  for (const char c : name) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':' ||
                    c == '[' || c == ']';
    if (!ok) reader.fail(at, field, fmt::format("name \"{}\" may only hold letters, digits and -_.:[]", name));
  }
}

TablesConfig parse_tables(const Reader& reader, const YAML::Node& node) {
  TablesConfig tables;
  if (!node.IsDefined()) return tables;
  reader.expect_map(node, "tables");
  reader.check_keys(node, "tables",
                    {"segment", "max_vips", "max_backends", "max_table_slots", "max_readers", "flow_hash_seed"});
  if (node["segment"].IsDefined()) {
    tables.segment = reader.scalar(node["segment"], "tables.segment");
    if (tables.segment.empty() || tables.segment.front() != '/') {
      reader.fail(node["segment"], "tables.segment", "must be an absolute path");
    }
  }
  auto& capacity = tables.capacity;
  capacity.max_vips = static_cast<uint32_t>(
      reader.optional_unsigned(node, "max_vips", "tables", capacity.max_vips, 1, kMaxVipsLimit));
  capacity.max_backends = static_cast<uint32_t>(
      reader.optional_unsigned(node, "max_backends", "tables", capacity.max_backends, 1, kMaxBackendsLimit));
  capacity.max_readers = static_cast<uint32_t>(
      reader.optional_unsigned(node, "max_readers", "tables", capacity.max_readers, 1, kMaxReadersLimit));
  capacity.max_table_slots =
      reader.optional_unsigned(node, "max_table_slots", "tables", capacity.max_table_slots, 2, 1ull << 32);
  tables.flow_hash_seed =
      reader.optional_unsigned(node, "flow_hash_seed", "tables", tables.flow_hash_seed, 0, UINT64_MAX);
  return tables;
}

DataplanePortConfig parse_dataplane_port(const Reader& reader, const YAML::Node& node, const std::string& field) {
  reader.expect_map(node, field);
  reader.check_keys(node, field,
                    {"id", "ipv4", "ipv6", "gateway_ipv4", "gateway_ipv6", "mtu", "neighbours", "nat_ipv4", "nat_ipv6",
                     "nat_ports", "exception_port"});
  DataplanePortConfig port;
  if (!node["id"].IsDefined()) reader.fail(node, field + ".id", "missing");
  port.id = static_cast<uint16_t>(reader.unsigned_value(node["id"], field + ".id", 0, 1023));
  const auto prefix = [&](const char* key, abi::AddressFamily family) -> std::optional<IpPrefix> {
    if (!node[key].IsDefined()) return std::nullopt;
    auto parsed = IpPrefix::parse(reader.scalar(node[key], field + "." + key));
    if (!parsed) reader.fail(node[key], field + "." + key, parsed.error().message);
    if (parsed->address.family != family) reader.fail(node[key], field + "." + key, "wrong address family");
    return *parsed;
  };
  const auto address = [&](const char* key, abi::AddressFamily family) -> std::optional<IpAddress> {
    if (!node[key].IsDefined()) return std::nullopt;
    auto parsed = IpAddress::parse(reader.scalar(node[key], field + "." + key));
    if (!parsed) reader.fail(node[key], field + "." + key, parsed.error().message);
    if (parsed->family != family) reader.fail(node[key], field + "." + key, "wrong address family");
    return *parsed;
  };
  port.ipv4 = prefix("ipv4", abi::AddressFamily::kIpv4);
  port.ipv6 = prefix("ipv6", abi::AddressFamily::kIpv6);
  port.gateway_ipv4 = address("gateway_ipv4", abi::AddressFamily::kIpv4);
  port.gateway_ipv6 = address("gateway_ipv6", abi::AddressFamily::kIpv6);
  port.mtu = static_cast<uint16_t>(reader.optional_unsigned(node, "mtu", field, 0, 576, 9000));
  if (node["exception_port"].IsDefined()) {
    port.exception_port = static_cast<uint16_t>(reader.unsigned_value(node["exception_port"], field + ".exception_port", 0, 1023));
    if (*port.exception_port == port.id) reader.fail(node["exception_port"], field + ".exception_port", "must be another port");
  }
  for (const auto& [key, family] : {std::pair{"nat_ipv4", abi::AddressFamily::kIpv4}, std::pair{"nat_ipv6", abi::AddressFamily::kIpv6}}) {
    const YAML::Node list = node[key];
    if (!list.IsDefined()) continue;
    const std::string list_field = field + "." + key;
    reader.expect_sequence(list, list_field);
    if (list.size() > 8) reader.fail(list, list_field, "at most 8 addresses");
    for (size_t i = 0; i < list.size(); ++i) {
      auto address = IpAddress::parse(reader.scalar(list[i], fmt::format("{}[{}]", list_field, i)));
      if (!address) reader.fail(list[i], fmt::format("{}[{}]", list_field, i), address.error().message);
      if (address->family != family) reader.fail(list[i], fmt::format("{}[{}]", list_field, i), "wrong address family");
      (family == abi::AddressFamily::kIpv4 ? port.nat_ipv4 : port.nat_ipv6).push_back(*address);
    }
  }
  if (const YAML::Node range = node["nat_ports"]; range.IsDefined()) {
    reader.expect_sequence(range, field + ".nat_ports");
    if (range.size() != 2) reader.fail(range, field + ".nat_ports", "expected [FIRST, LAST]");
    port.nat_port_first = static_cast<uint16_t>(reader.unsigned_value(range[0], field + ".nat_ports[0]", 1, 65535));
    port.nat_port_last = static_cast<uint16_t>(reader.unsigned_value(range[1], field + ".nat_ports[1]", 1, 65535));
    if (port.nat_port_first > port.nat_port_last) reader.fail(range, field + ".nat_ports", "FIRST must not exceed LAST");
  }
  if (const YAML::Node neighbours = node["neighbours"]; neighbours.IsDefined()) {
    reader.expect_sequence(neighbours, field + ".neighbours");
    for (size_t i = 0; i < neighbours.size(); ++i) {
      const std::string item = fmt::format("{}.neighbours[{}]", field, i);
      reader.expect_map(neighbours[i], item);
      reader.check_keys(neighbours[i], item, {"address", "mac"});
      auto address = IpAddress::parse(reader.required_string(neighbours[i], "address", item));
      if (!address) reader.fail(neighbours[i]["address"], item + ".address", address.error().message);
      auto mac = parse_mac(reader.required_string(neighbours[i], "mac", item));
      if (!mac) reader.fail(neighbours[i]["mac"], item + ".mac", mac.error().message);
      port.static_neighbours.emplace_back(*address, *mac);
    }
  }
  return port;
}

DataplaneConfig parse_dataplane(const Reader& reader, const YAML::Node& node) {
  DataplaneConfig dataplane;
  if (!node.IsDefined()) return dataplane;
  reader.expect_map(node, "dataplane");
  reader.check_keys(node, "dataplane",
                    {"ports", "flows_per_worker", "flows_path", "stats_path", "gue_port", "tcp_mss_clamp", "timeouts",
                     "eviction_guard"});
  if (node["ports"].IsDefined()) {
    reader.expect_sequence(node["ports"], "dataplane.ports");
    std::set<uint16_t> ids;
    for (size_t i = 0; i < node["ports"].size(); ++i) {
      const std::string field = fmt::format("dataplane.ports[{}]", i);
      DataplanePortConfig port = parse_dataplane_port(reader, node["ports"][i], field);
      if (!ids.insert(port.id).second) reader.fail(node["ports"][i], field + ".id", "duplicate port id");
      dataplane.ports.push_back(std::move(port));
    }
    for (size_t i = 0; i < dataplane.ports.size(); ++i) {
      const auto& exception = dataplane.ports[i].exception_port;
      if (!exception) continue;
      const std::string field = fmt::format("dataplane.ports[{}].exception_port", i);
      if (ids.contains(*exception)) reader.fail(node["ports"][i]["exception_port"], field, "is a forwarding port");
      for (size_t j = 0; j < i; ++j) {
        if (dataplane.ports[j].exception_port == exception) {
          reader.fail(node["ports"][i]["exception_port"], field, "already serves another port");
        }
      }
    }
  }
  dataplane.flows_per_worker = static_cast<uint32_t>(
      reader.optional_unsigned(node, "flows_per_worker", "dataplane", dataplane.flows_per_worker, 64, 1u << 28));
  for (const char* key : {"flows_path", "stats_path"}) {
    if (!node[key].IsDefined()) continue;
    std::string path = reader.scalar(node[key], std::string("dataplane.") + key);
    if (path.empty() || path.front() != '/') reader.fail(node[key], std::string("dataplane.") + key, "must be an absolute path");
    (std::string_view(key) == "flows_path" ? dataplane.flows_path : dataplane.stats_path) = path;
  }
  dataplane.gue_port =
      static_cast<uint16_t>(reader.optional_unsigned(node, "gue_port", "dataplane", dataplane.gue_port, 1, 65535));
  dataplane.tcp_mss_clamp =
      static_cast<uint16_t>(reader.optional_unsigned(node, "tcp_mss_clamp", "dataplane", 0, 0, 65535));
  if (dataplane.tcp_mss_clamp != 0 && dataplane.tcp_mss_clamp < 536) {
    reader.fail(node["tcp_mss_clamp"], "dataplane.tcp_mss_clamp", "must be 0 (off) or at least 536");
  }
  if (const YAML::Node timeouts = node["timeouts"]; timeouts.IsDefined()) {
    reader.expect_map(timeouts, "dataplane.timeouts");
    reader.check_keys(timeouts, "dataplane.timeouts", {"tcp_syn", "tcp_established", "tcp_closing", "tcp_closed", "udp"});
    const auto seconds = [&](const char* key, uint32_t fallback) {
      return static_cast<uint32_t>(reader.optional_unsigned(timeouts, key, "dataplane.timeouts", fallback, 1, 365 * 86400));
    };
    dataplane.timeout_tcp_syn_s = seconds("tcp_syn", dataplane.timeout_tcp_syn_s);
    dataplane.timeout_tcp_established_s = seconds("tcp_established", dataplane.timeout_tcp_established_s);
    dataplane.timeout_tcp_closing_s = seconds("tcp_closing", dataplane.timeout_tcp_closing_s);
    dataplane.timeout_tcp_closed_s = seconds("tcp_closed", dataplane.timeout_tcp_closed_s);
    dataplane.timeout_udp_s = seconds("udp", dataplane.timeout_udp_s);
  }
  if (const YAML::Node guard = node["eviction_guard"]; guard.IsDefined()) {
    reader.expect_map(guard, "dataplane.eviction_guard");
    reader.check_keys(guard, "dataplane.eviction_guard", {"rate", "burst"});
    dataplane.guard_rate =
        static_cast<uint32_t>(reader.optional_unsigned(guard, "rate", "dataplane.eviction_guard", dataplane.guard_rate, 0, 1u << 30));
    dataplane.guard_burst =
        static_cast<uint32_t>(reader.optional_unsigned(guard, "burst", "dataplane.eviction_guard", dataplane.guard_burst, 0, 1u << 30));
  }
  return dataplane;
}

BackendConfig parse_backend(const Reader& reader, const YAML::Node& node, const std::string& field) {
  reader.expect_map(node, field);
  reader.check_keys(node, field, {"name", "address", "port", "weight"});
  BackendConfig backend;
  const std::string address_text = reader.required_string(node, "address", field);
  auto address = IpAddress::parse(address_text);
  if (!address) reader.fail(node["address"], field + ".address", address.error().message);
  backend.endpoint.address = *address;
  if (!node["port"].IsDefined()) reader.fail(node, field + ".port", "missing");
  backend.endpoint.port = static_cast<uint16_t>(reader.unsigned_value(node["port"], field + ".port", 1, 65535));
  backend.weight = static_cast<uint32_t>(reader.optional_unsigned(node, "weight", field, 1, 0, 1000000));
  backend.name = node["name"].IsDefined() ? reader.scalar(node["name"], field + ".name") : backend.endpoint.to_string();
  check_name(reader, node["name"].IsDefined() ? node["name"] : node, field + ".name", backend.name,
             abi::kBackendNameBytes - 1);
  return backend;
}

HealthCheckConfig parse_health(const Reader& reader, const YAML::Node& node, const std::string& field) {
  HealthCheckConfig health;
  if (!node.IsDefined()) return health;
  reader.expect_map(node, field);
  reader.check_keys(node, field,
                    {"check", "path", "host", "expect_status", "tls", "interval_ms", "timeout_ms", "rise", "fall"});
  const std::string check = reader.required_string(node, "check", field);
  if (check == "none") health.kind = HealthCheckConfig::Kind::kNone;
  else if (check == "tcp") health.kind = HealthCheckConfig::Kind::kTcp;
  else if (check == "http") health.kind = HealthCheckConfig::Kind::kHttp;
  else if (check == "https") health.kind = HealthCheckConfig::Kind::kHttps;
  else if (check == "websocket") health.kind = HealthCheckConfig::Kind::kWebSocket;
  else reader.fail(node["check"], field + ".check", fmt::format("unknown check \"{}\" (none, tcp, http, https, websocket)", check));
  if (node["path"].IsDefined()) {
    health.path = reader.scalar(node["path"], field + ".path");
    if (health.path.empty() || health.path.front() != '/' || health.path.find_first_of(" \r\n") != std::string::npos) {
      reader.fail(node["path"], field + ".path", "must start with / and hold no spaces");
    }
  }
  if (node["host"].IsDefined()) health.host = reader.scalar(node["host"], field + ".host");
  if (health.kind == HealthCheckConfig::Kind::kWebSocket) health.expect_status = 101;
  health.expect_status = static_cast<uint16_t>(
      reader.optional_unsigned(node, "expect_status", field, health.expect_status, 100, 599));
  if (node["tls"].IsDefined()) {
    const std::string tls = reader.scalar(node["tls"], field + ".tls");
    if (tls != "true" && tls != "false") reader.fail(node["tls"], field + ".tls", "expected true or false");
    health.tls = tls == "true";
  }
  health.interval_ms = static_cast<uint32_t>(reader.optional_unsigned(node, "interval_ms", field, health.interval_ms, 100, 3600000));
  health.timeout_ms = static_cast<uint32_t>(reader.optional_unsigned(node, "timeout_ms", field, health.timeout_ms, 10, 600000));
  health.rise = static_cast<uint32_t>(reader.optional_unsigned(node, "rise", field, health.rise, 1, 100));
  health.fall = static_cast<uint32_t>(reader.optional_unsigned(node, "fall", field, health.fall, 1, 100));
  if (health.timeout_ms > health.interval_ms) {
    reader.fail(node, field + ".timeout_ms", "must not exceed interval_ms");
  }
  return health;
}

ControlConfig parse_control(const Reader& reader, const YAML::Node& node) {
  ControlConfig control;
  if (!node.IsDefined()) return control;
  reader.expect_map(node, "control");
  reader.check_keys(node, "control", {"admin_socket", "metrics", "grace_ms"});
  if (node["admin_socket"].IsDefined()) {
    control.admin_socket = reader.scalar(node["admin_socket"], "control.admin_socket");
    if (control.admin_socket.empty() || control.admin_socket.front() != '/' || control.admin_socket.size() > 100) {
      reader.fail(node["admin_socket"], "control.admin_socket", "must be an absolute path of at most 100 characters");
    }
  }
  if (node["metrics"].IsDefined()) {
    control.metrics_listen = reader.scalar(node["metrics"], "control.metrics");
    if (control.metrics_listen != "off") {
      auto endpoint = Endpoint::parse(control.metrics_listen);
      if (!endpoint) reader.fail(node["metrics"], "control.metrics", endpoint.error().message + " (or \"off\")");
    } else {
      control.metrics_listen.clear();
    }
  }
  control.grace_ms = static_cast<uint32_t>(reader.optional_unsigned(node, "grace_ms", "control", control.grace_ms, 10, 60000));
  return control;
}

std::vector<PoolConfig> parse_pools(const Reader& reader, const YAML::Node& node) {
  std::vector<PoolConfig> pools;
  if (!node.IsDefined()) return pools;
  reader.expect_map(node, "pools");
  for (const auto& entry : node) {
    PoolConfig pool;
    pool.name = entry.first.Scalar();
    const std::string field = "pools." + pool.name;
    check_name(reader, entry.first, field, pool.name, abi::kVipNameBytes - 1);
    reader.expect_map(entry.second, field);
    reader.check_keys(entry.second, field, {"backends", "health"});
    pool.health = parse_health(reader, entry.second["health"], field + ".health");
    const YAML::Node backends = entry.second["backends"];
    if (!backends.IsDefined()) reader.fail(entry.second, field + ".backends", "missing");
    reader.expect_sequence(backends, field + ".backends");
    std::set<std::string> names;
    std::set<Endpoint> endpoints;
    for (size_t i = 0; i < backends.size(); ++i) {
      const std::string backend_field = fmt::format("{}.backends[{}]", field, i);
      BackendConfig backend = parse_backend(reader, backends[i], backend_field);
      if (!names.insert(backend.name).second) {
        reader.fail(backends[i], backend_field + ".name", fmt::format("duplicate backend name \"{}\"", backend.name));
      }
      if (!endpoints.insert(backend.endpoint).second) {
        reader.fail(backends[i], backend_field,
                    fmt::format("duplicate backend {} in the pool", backend.endpoint.to_string()));
      }
      pool.backends.push_back(std::move(backend));
    }
    pools.push_back(std::move(pool));
  }
  return pools;
}

abi::ForwardMode parse_mode(const Reader& reader, const YAML::Node& node, const std::string& field) {
  const std::string text = reader.scalar(node, field);
  if (text == "fullnat") return abi::ForwardMode::kFullNat;
  if (text == "dsr-ipip") return abi::ForwardMode::kDsrIpip;
  if (text == "dsr-gue") return abi::ForwardMode::kDsrGue;
  if (text == "l7") return abi::ForwardMode::kL7Proxy;
  reader.fail(node, field, fmt::format("unknown mode \"{}\" (expected fullnat, dsr-ipip, dsr-gue or l7)", text));
}

abi::L4Protocol parse_protocol(const Reader& reader, const YAML::Node& node, const std::string& field) {
  const std::string text = reader.scalar(node, field);
  if (text == "tcp") return abi::L4Protocol::kTcp;
  if (text == "udp") return abi::L4Protocol::kUdp;
  reader.fail(node, field, fmt::format("unknown protocol \"{}\" (expected tcp or udp)", text));
}

bool boolean(const Reader& reader, const YAML::Node& node, const std::string& field) {
  const std::string text = reader.scalar(node, field);
  if (text != "true" && text != "false") reader.fail(node, field, "expected true or false");
  return text == "true";
}

std::string readable_file(const Reader& reader, const YAML::Node& parent, const char* key, const std::string& field) {
  const std::string path = reader.required_string(parent, key, field);
  if (std::ifstream(path).fail()) {
    reader.fail(parent[key], field + "." + key, fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  }
  return path;
}

L7VipConfig parse_l7_vip(const Reader& reader, const YAML::Node& node, const std::string& field) {
  L7VipConfig l7;
  if (!node.IsDefined()) return l7;
  reader.expect_map(node, field);
  reader.check_keys(node, field, {"tls", "redirect_port", "redirect_host", "proxy_protocol", "session_tickets"});
  if (const YAML::Node tls = node["tls"]; tls.IsDefined()) {
    reader.expect_sequence(tls, field + ".tls");
    if (tls.size() == 0) reader.fail(tls, field + ".tls", "list at least one certificate, or leave tls out");
    for (size_t i = 0; i < tls.size(); ++i) {
      const std::string item = fmt::format("{}.tls[{}]", field, i);
      reader.expect_map(tls[i], item);
      reader.check_keys(tls[i], item, {"cert", "key"});
      l7.certificates.push_back({readable_file(reader, tls[i], "cert", item), readable_file(reader, tls[i], "key", item)});
    }
  }
  if (node["redirect_port"].IsDefined()) {
    if (l7.certificates.empty()) reader.fail(node["redirect_port"], field + ".redirect_port", "needs tls (it redirects to https)");
    l7.redirect_port = static_cast<uint16_t>(reader.unsigned_value(node["redirect_port"], field + ".redirect_port", 1, 65535));
  }
  if (node["redirect_host"].IsDefined()) {
    l7.redirect_host = reader.scalar(node["redirect_host"], field + ".redirect_host");
    if (l7.redirect_host.empty() || l7.redirect_host.find_first_of(" \r\n/") != std::string::npos) {
      reader.fail(node["redirect_host"], field + ".redirect_host", "expected a host name (no spaces or /)");
    }
  }
  if (node["proxy_protocol"].IsDefined()) l7.proxy_protocol = boolean(reader, node["proxy_protocol"], field + ".proxy_protocol");
  if (node["session_tickets"].IsDefined()) {
    if (l7.certificates.empty()) reader.fail(node["session_tickets"], field + ".session_tickets", "needs tls");
    l7.session_tickets = static_cast<uint32_t>(reader.unsigned_value(node["session_tickets"], field + ".session_tickets", 0, 8));
  }
  return l7;
}

L7Config parse_l7(const Reader& reader, const YAML::Node& node) {
  L7Config l7;
  if (!node.IsDefined()) return l7;
  reader.expect_map(node, "l7");
  reader.check_keys(node, "l7",
                    {"idle_timeout_s", "handshake_timeout_ms", "connect_timeout_ms", "max_header_bytes", "max_connections",
                     "threads"});
  l7.idle_timeout_s = static_cast<uint32_t>(reader.optional_unsigned(node, "idle_timeout_s", "l7", l7.idle_timeout_s, 1, 30 * 86400));
  l7.handshake_timeout_ms = static_cast<uint32_t>(
      reader.optional_unsigned(node, "handshake_timeout_ms", "l7", l7.handshake_timeout_ms, 100, 600000));
  l7.connect_timeout_ms = static_cast<uint32_t>(
      reader.optional_unsigned(node, "connect_timeout_ms", "l7", l7.connect_timeout_ms, 100, 600000));
  l7.max_header_bytes = static_cast<uint32_t>(
      reader.optional_unsigned(node, "max_header_bytes", "l7", l7.max_header_bytes, 1024, 1u << 20));
  l7.max_connections = static_cast<uint32_t>(
      reader.optional_unsigned(node, "max_connections", "l7", l7.max_connections, 1, 1000000));
  l7.threads = static_cast<uint32_t>(reader.optional_unsigned(node, "threads", "l7", l7.threads, 0, 256));
  return l7;
}

VipConfig parse_vip(const Reader& reader, const YAML::Node& node, const std::string& field,
                    const std::vector<PoolConfig>& pools) {
  reader.expect_map(node, field);
  reader.check_keys(node, field, {"name", "address", "port", "protocol", "mode", "pool", "table_size", "l7"});
  VipConfig vip;
  vip.name = reader.required_string(node, "name", field);
  check_name(reader, node["name"], field + ".name", vip.name, abi::kVipNameBytes - 1);
  auto address = IpAddress::parse(reader.required_string(node, "address", field));
  if (!address) reader.fail(node["address"], field + ".address", address.error().message);
  vip.endpoint.address = *address;
  if (!node["port"].IsDefined()) reader.fail(node, field + ".port", "missing");
  vip.endpoint.port = static_cast<uint16_t>(reader.unsigned_value(node["port"], field + ".port", 1, 65535));
  if (node["protocol"].IsDefined()) vip.protocol = parse_protocol(reader, node["protocol"], field + ".protocol");
  if (node["mode"].IsDefined()) vip.mode = parse_mode(reader, node["mode"], field + ".mode");
  if (node["l7"].IsDefined() && vip.mode != abi::ForwardMode::kL7Proxy) {
    reader.fail(node["l7"], field + ".l7", "only VIPs of mode l7 take l7 settings");
  }
  if (vip.mode == abi::ForwardMode::kL7Proxy && vip.protocol != abi::L4Protocol::kTcp) {
    reader.fail(node["protocol"], field + ".protocol", "mode l7 is TCP only");
  }
  vip.l7 = parse_l7_vip(reader, node["l7"], field + ".l7");
  if (vip.l7.redirect_port == vip.endpoint.port && vip.l7.redirect_port != 0) {
    reader.fail(node["l7"]["redirect_port"], field + ".l7.redirect_port", "must differ from the VIP port");
  }
  vip.pool = reader.required_string(node, "pool", field);
  const auto pool = std::find_if(pools.begin(), pools.end(), [&](const PoolConfig& p) { return p.name == vip.pool; });
  if (pool == pools.end()) reader.fail(node["pool"], field + ".pool", fmt::format("no pool named \"{}\"", vip.pool));
  for (const BackendConfig& backend : pool->backends) {
    if (backend.endpoint.address.family != vip.endpoint.address.family) {
      reader.fail(node["address"], field + ".address",
                  fmt::format("VIP is IPv{} but backend {} of pool \"{}\" is IPv{}",
                              static_cast<int>(vip.endpoint.address.family), backend.name, pool->name,
                              static_cast<int>(backend.endpoint.address.family)));
    }
  }
  if (node["table_size"].IsDefined()) {
    const YAML::Node size = node["table_size"];
    vip.table_size = static_cast<uint32_t>(reader.unsigned_value(size, field + ".table_size", 2, abi::kMaxTableSize));
    if (!is_prime(vip.table_size)) {
      reader.fail(size, field + ".table_size", fmt::format("{} is not prime (Maglev needs a prime)", vip.table_size));
    }
  }
  if (vip.table_size < pool->backends.size()) {
    reader.fail(node, field + ".table_size",
                fmt::format("{} slots cannot hold {} backends", vip.table_size, pool->backends.size()));
  }
  return vip;
}

Config parse_root(const Reader& reader, const YAML::Node& root, const std::string& source) {
  Config config;
  config.source = source;
  if (root.IsNull() || !root.IsDefined()) reader.fail(root, "(top level)", "empty configuration");
  reader.expect_map(root, "(top level)");
  reader.check_keys(root, "", {"tables", "control", "pools", "vips", "dataplane", "l7"});
  config.tables = parse_tables(reader, root["tables"]);
  config.control = parse_control(reader, root["control"]);
  config.dataplane = parse_dataplane(reader, root["dataplane"]);
  config.pools = parse_pools(reader, root["pools"]);
  config.l7 = parse_l7(reader, root["l7"]);
  const YAML::Node vips = root["vips"];
  if (vips.IsDefined()) {
    reader.expect_sequence(vips, "vips");
    std::set<std::string> names;
    std::set<std::tuple<Endpoint, abi::L4Protocol>> keys;
    uint64_t slots = 0;
    uint64_t members = 0;
    for (size_t i = 0; i < vips.size(); ++i) {
      const std::string field = fmt::format("vips[{}]", i);
      VipConfig vip = parse_vip(reader, vips[i], field, config.pools);
      if (!names.insert(vip.name).second) {
        reader.fail(vips[i]["name"], field + ".name", fmt::format("duplicate VIP name \"{}\"", vip.name));
      }
      if (!keys.emplace(vip.endpoint, vip.protocol).second) {
        reader.fail(vips[i], field,
                    fmt::format("duplicate VIP {} {}", to_string(vip.protocol), vip.endpoint.to_string()));
      }
      slots += vip.table_size;
      members += config.find_pool(vip.pool)->backends.size();
      config.vips.push_back(std::move(vip));
    }
    const auto& capacity = config.tables.capacity;
    if (config.vips.size() > capacity.max_vips) {
      reader.fail(vips, "vips", fmt::format("{} VIPs exceed tables.max_vips {}", config.vips.size(), capacity.max_vips));
    }
    if (members > capacity.max_backends) {
      reader.fail(vips, "vips",
                  fmt::format("{} VIP members exceed tables.max_backends {}", members, capacity.max_backends));
    }
    if (slots > capacity.max_table_slots) {
      reader.fail(vips, "vips",
                  fmt::format("{} table slots exceed tables.max_table_slots {}", slots, capacity.max_table_slots));
    }
  }
  return config;
}

}  // namespace

Result<Config> parse_config(std::string_view text, const std::string& source) {
  Reader reader(source);
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    return parse_root(reader, root, source);
  } catch (const ConfigError& error) {
    return Error{error.what()};
  } catch (const YAML::ParserException& error) {
    return make_error("{}:{}: YAML syntax error: {}", source, error.mark.line + 1, error.msg);
  } catch (const YAML::Exception& error) {
    return make_error("{}:{}: {}", source, error.mark.line + 1, error.msg);
  }
}

Result<Config> load_config_file(const std::string& path) {
  std::ifstream file(path);
  if (!file) return make_error("cannot read config {}: {}", path, std::strerror(errno));
  std::stringstream buffer;
  buffer << file.rdbuf();
  return parse_config(buffer.str(), path);
}

}  // namespace eclb::ctl
