// Command line of eclb-dataplane (CLI11) on top of the YAML config.
#include "dataplane/runtime/options.h"

#include <CLI/CLI.hpp>

#include "config/config_loader.h"

namespace eclb::dp {

Result<DataplanePortConfig> parse_port_spec(const std::string& spec) {
  DataplanePortConfig port;
  size_t start = 0;
  bool first = true;
  while (start <= spec.size()) {
    const size_t comma = spec.find(',', start);
    const std::string item = spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? spec.size() + 1 : comma + 1;
    if (first) {
      first = false;
      char* end = nullptr;
      const unsigned long id = std::strtoul(item.c_str(), &end, 10);
      if (item.empty() || *end != '\0' || id > 1023) return make_error("--port \"{}\": expected a port id first", spec);
      port.id = static_cast<uint16_t>(id);
      continue;
    }
    const size_t equals = item.find('=');
    if (equals == std::string::npos) return make_error("--port \"{}\": expected KEY=VALUE, got \"{}\"", spec, item);
    const std::string key = item.substr(0, equals), value = item.substr(equals + 1);
    if (key == "ipv4" || key == "ipv6") {
      auto prefix = IpPrefix::parse(value);
      if (!prefix) return make_error("--port \"{}\": {}", spec, prefix.error().message);
      if ((key == "ipv4") != prefix->address.is_v4()) return make_error("--port \"{}\": {} has the wrong family", spec, key);
      (key == "ipv4" ? port.ipv4 : port.ipv6) = *prefix;
    } else if (key == "gateway_ipv4" || key == "gateway_ipv6") {
      auto address = IpAddress::parse(value);
      if (!address) return make_error("--port \"{}\": {}", spec, address.error().message);
      if ((key == "gateway_ipv4") != address->is_v4()) return make_error("--port \"{}\": {} has the wrong family", spec, key);
      (key == "gateway_ipv4" ? port.gateway_ipv4 : port.gateway_ipv6) = *address;
    } else if (key == "neighbour") {
      const size_t at = value.find('@');
      if (at == std::string::npos) return make_error("--port \"{}\": neighbour=ADDRESS@MAC", spec);
      auto address = IpAddress::parse(value.substr(0, at));
      if (!address) return make_error("--port \"{}\": {}", spec, address.error().message);
      auto mac = parse_mac(value.substr(at + 1));
      if (!mac) return make_error("--port \"{}\": {}", spec, mac.error().message);
      port.static_neighbours.emplace_back(*address, *mac);
    } else if (key == "nat") {  // nat=ADDRESS, repeatable
      auto address = IpAddress::parse(value);
      if (!address) return make_error("--port \"{}\": {}", spec, address.error().message);
      (address->is_v4() ? port.nat_ipv4 : port.nat_ipv6).push_back(*address);
    } else if (key == "nat_ports") {  // nat_ports=FIRST-LAST
      unsigned first = 0, last = 0;
      if (std::sscanf(value.c_str(), "%u-%u", &first, &last) != 2 || first == 0 || first > last || last > 65535) {
        return make_error("--port \"{}\": nat_ports=FIRST-LAST", spec);
      }
      port.nat_port_first = static_cast<uint16_t>(first);
      port.nat_port_last = static_cast<uint16_t>(last);
    } else if (key == "exception") {  // exception=PORT_ID (a TAP / virtio-user port)
      char* end = nullptr;
      const unsigned long id = std::strtoul(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || id > 1023) return make_error("--port \"{}\": exception=PORT_ID", spec);
      port.exception_port = static_cast<uint16_t>(id);
    } else if (key == "mtu") {
      char* end = nullptr;
      const unsigned long mtu = std::strtoul(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || mtu < 576 || mtu > 9000) return make_error("--port \"{}\": bad mtu", spec);
      port.mtu = static_cast<uint16_t>(mtu);
    } else {
      return make_error("--port \"{}\": unknown key \"{}\" (ipv4, ipv6, gateway_ipv4, gateway_ipv6, mtu, neighbour, nat, nat_ports, exception)", spec, key);
    }
  }
  return port;
}

Result<DataplaneOptions> parse_options(int argc, char** argv) {
  CLI::App app{"eclb-dataplane: DPDK forwarding with Maglev (EAL arguments first, then -- and these options)"};
  app.set_version_flag("--version", ECLB_VERSION);
  std::string config_path, segment, flows_path, stats_path, log_level = "info";
  std::vector<std::string> port_specs;
  uint32_t flows = 0;
  uint16_t gue_port = 0;
  int64_t idle_sleep_us = -1;
  app.add_option("-c,--config", config_path, "YAML config (tables: and dataplane: sections)");
  app.add_option("--segment", segment, "table region path (default tables.segment or /dev/shm/eclb-tables)");
  app.add_option("--port", port_specs, "PORT_ID,ipv4=A/N,ipv6=A/N,gateway_ipv4=A,gateway_ipv6=A,mtu=M (repeatable)");
  app.add_option("--flows", flows, "flow entries per worker lcore")->check(CLI::Range(64u, 1u << 28));
  app.add_option("--flows-path", flows_path, "flow region file (hugetlbfs for hugepages)");
  app.add_option("--stats-path", stats_path, "stats region file");
  app.add_option("--gue-port", gue_port, "UDP destination port of dsr-gue")->check(CLI::Range(1, 65535));
  app.add_option("--idle-sleep-us", idle_sleep_us, "idle workers sleep this long between polls (0: never)")
      ->check(CLI::Range(0, 10000));
  app.add_option("--log-level", log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    fmt::print("{}", app.help());
    return Error{""};
  } catch (const CLI::CallForVersion&) {
    fmt::print("{}\n", ECLB_VERSION);
    return Error{""};
  } catch (const CLI::ParseError& error) {
    return make_error("{}", error.what());
  }

  DataplaneOptions options;
  if (!config_path.empty()) {
    auto config = load_config_file(config_path);
    if (!config) return std::move(config).error();
    options.segment = config->tables.segment;
    options.dataplane = config->dataplane;
  }
  if (!segment.empty()) options.segment = segment;
  if (!port_specs.empty()) {
    options.dataplane.ports.clear();
    for (const std::string& spec : port_specs) {
      auto port = parse_port_spec(spec);
      if (!port) return std::move(port).error();
      options.dataplane.ports.push_back(*port);
    }
  }
  if (flows != 0) options.dataplane.flows_per_worker = flows;
  if (!flows_path.empty()) options.dataplane.flows_path = flows_path;
  if (!stats_path.empty()) options.dataplane.stats_path = stats_path;
  if (gue_port != 0) options.dataplane.gue_port = gue_port;
  if (idle_sleep_us >= 0) options.dataplane.idle_sleep_us = static_cast<uint32_t>(idle_sleep_us);
  options.log_level = log_level;
  if (options.dataplane.ports.empty()) return make_error("no ports: give --port or dataplane.ports in --config");
  return options;
}

}  // namespace eclb::dp
