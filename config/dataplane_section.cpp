// The `dataplane:` section: ports (addresses, fullnat pools, neighbours, exception ports),
// flow table size and paths, timeouts and the eviction guard.
#include "config/yaml_reader.h"

#include <set>

namespace eclb::yaml_config {

namespace {

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

}  // namespace

DataplaneConfig parse_dataplane(const Reader& reader, const YAML::Node& node) {
  DataplaneConfig dataplane;
  if (!node.IsDefined()) return dataplane;
  reader.expect_map(node, "dataplane");
  reader.check_keys(node, "dataplane",
                    {"ports", "flows_per_worker", "flows_path", "stats_path", "gue_port", "gue_ipv6_zero_checksum", "tcp_mss_clamp", "timeouts",
                     "eviction_guard", "idle_sleep_us"});
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
  if (node["gue_ipv6_zero_checksum"].IsDefined()) {
    dataplane.gue_ipv6_zero_checksum = boolean(reader, node["gue_ipv6_zero_checksum"], "dataplane.gue_ipv6_zero_checksum");
  }
  dataplane.idle_sleep_us =
      static_cast<uint32_t>(reader.optional_unsigned(node, "idle_sleep_us", "dataplane", dataplane.idle_sleep_us, 0, 10000));
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

}  // namespace eclb::yaml_config
