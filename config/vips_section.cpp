// One entry of the `vips:` section: address, port, protocol, mode, pool, table size and,
// for mode l7, its TLS and routing settings.
#include "config/yaml_reader.h"

#include "common/prime.h"

namespace eclb::yaml_config {

namespace {

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

}  // namespace

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

}  // namespace eclb::yaml_config
