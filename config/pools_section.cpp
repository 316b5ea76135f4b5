// The `pools:` section: backends and their health checks.
#include "config/yaml_reader.h"

#include <set>

namespace eclb::yaml_config {

namespace {

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
                    {"check", "path", "host", "expect_status", "tls", "interval_ms", "timeout_ms", "rise", "fall",
                     "max_fails", "fail_timeout_ms"});
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
  health.max_fails = static_cast<uint32_t>(reader.optional_unsigned(node, "max_fails", field, health.max_fails, 0, 1000));
  health.fail_timeout_ms =
      static_cast<uint32_t>(reader.optional_unsigned(node, "fail_timeout_ms", field, health.fail_timeout_ms, 100, 3600000));
  if (health.timeout_ms > health.interval_ms) {
    reader.fail(node, field + ".timeout_ms", "must not exceed interval_ms");
  }
  return health;
}

}  // namespace

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
    // No `backends:` is an empty pool: environment.env's GATEWAY_LIST fills "gateways".
    const YAML::Node backends = entry.second["backends"];
    if (!backends.IsDefined()) {
      pools.push_back(std::move(pool));
      continue;
    }
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

}  // namespace eclb::yaml_config
