// environment.env parsing and translation (see env_config.h).
#include "config/env_config.h"

#include <netdb.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <optional>
#include <fstream>
#include <set>
#include <sstream>

namespace eclb {
namespace {

std::string trim(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t\r");
  if (first == std::string::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t\r") - first + 1);
}

Result<IpAddress> resolve(const std::string& name) {
  if (auto literal = IpAddress::parse(name); literal) return *literal;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(name.c_str(), nullptr, &hints, &found); rc != 0) {
    return make_error("cannot resolve DNS_NAME \"{}\": {} (set ECLB_VIP to the VIP address)", name, gai_strerror(rc));
  }
  IpAddress address;
  address.family = abi::AddressFamily::kIpv4;
  std::memcpy(address.bytes.data(), &reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr, 4);
  freeaddrinfo(found);
  return address;
}

// The image's certificate: ECLB_TLS_CERT / ECLB_TLS_KEY (relative to the env file), or
// cert.crt and certkey.key beside the env file. None: plain HTTP.
Result<std::optional<TlsCertificateConfig>> find_certificate(const std::string& cert, const std::string& key,
                                                            const std::string& source) {
  const std::filesystem::path directory = std::filesystem::path(source).parent_path();
  // path / "/absolute" is "/absolute": absolute settings are taken as they are.
  const auto beside = [&](const std::string& name) { return (directory / name).string(); };
  if (cert.empty() != key.empty()) return make_error("{}: set both ECLB_TLS_CERT and ECLB_TLS_KEY, or neither", source);
  TlsCertificateConfig found{beside(cert.empty() ? "cert.crt" : cert), beside(key.empty() ? "certkey.key" : key)};
  const bool cert_readable = !std::ifstream(found.cert_path).fail();
  const bool key_readable = !std::ifstream(found.key_path).fail();
  if (cert.empty() && !cert_readable && !key_readable) return std::optional<TlsCertificateConfig>();
  if (!cert_readable) return make_error("{}: cannot read the certificate {}", source, found.cert_path);
  if (!key_readable) return make_error("{}: cannot read the certificate key {}", source, found.key_path);
  return std::optional<TlsCertificateConfig>(found);
}

}  // namespace

Result<EnvFile> read_env_file(const std::string& path) {
  std::ifstream file(path);
  if (!file) return make_error("cannot read {}: {}", path, std::strerror(errno));
  EnvFile env;
  std::string line;
  for (int number = 1; std::getline(file, line); ++number) {
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    if (line.rfind("export ", 0) == 0) line = trim(line.substr(7));
    const size_t equals = line.find('=');
    if (equals == std::string::npos) return make_error("{}:{}: expected KEY=VALUE", path, number);
    const std::string key = line.substr(0, equals);
    const bool valid = !key.empty() && (std::isalpha(static_cast<unsigned char>(key[0])) || key[0] == '_') &&
                       std::all_of(key.begin(), key.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
    if (!valid) {
      return make_error("{}:{}: \"{}\" is not a variable name (letters, digits and _, not starting with a digit)", path,
                        number, key);
    }
    std::string value = trim(line.substr(equals + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'')) {
      if (value.back() != value.front()) return make_error("{}:{}: {}: unterminated quote", path, number, key);
      value = value.substr(1, value.size() - 2);
    } else if (value.size() == 1 && (value.front() == '"' || value.front() == '\'')) {
      return make_error("{}:{}: {}: unterminated quote", path, number, key);
    }
    env.values[key] = value;
    env.lines[key] = number;
  }
  return env;
}

Result<Config> config_from_env(const EnvFile& env, const std::string& source, Config base) {
  const auto get = [&](const char* key) -> std::string {
    const auto it = env.values.find(key);
    return it == env.values.end() ? std::string() : it->second;
  };
  // "environment.env:3" for a setting of that line, else the file.
  const auto at = [&](const char* key) -> std::string {
    const auto it = env.lines.find(key);
    return it == env.lines.end() ? source : fmt::format("{}:{}", source, it->second);
  };
  const std::string list = get("GATEWAY_LIST");
  if (list.empty()) return make_error("{}: GATEWAY_LIST is missing or empty", at("GATEWAY_LIST"));
  PoolConfig pool;
  pool.name = "gateways";
  if (const PoolConfig* configured = base.find_pool("gateways")) pool.health = configured->health;
  if (pool.health.kind == HealthCheckConfig::Kind::kNone && base.find_pool("gateways") == nullptr) {
    // Nothing said: a TCP connect check every second, down after two failures (nginx
    // has none, but passes a refused connection on; eclb does that too, and the L4
    // dataplane needs the check to stop picking a dead gateway).
    pool.health.kind = HealthCheckConfig::Kind::kTcp;
    pool.health.interval_ms = 1000;
    pool.health.timeout_ms = 500;
    pool.health.rise = 2;
    pool.health.fall = 2;
  }
  std::istringstream words(list);
  std::set<Endpoint> seen;
  for (std::string word; words >> word;) {
    auto endpoint = Endpoint::parse(word);
    if (!endpoint) return make_error("{}: GATEWAY_LIST: {}", at("GATEWAY_LIST"), endpoint.error().message);
    if (!seen.insert(*endpoint).second) {
      return make_error("{}: GATEWAY_LIST: {} is listed twice", at("GATEWAY_LIST"), word);
    }
    pool.backends.push_back({fmt::format("vm{}", pool.backends.size() + 1), *endpoint, 1});
  }
  VipConfig vip;
  vip.name = "gateways";
  vip.pool = "gateways";
  const std::string vip_text = get("ECLB_VIP");
  const std::string dns_name = get("DNS_NAME");
  if (vip_text.empty() && dns_name.empty()) return make_error("{}: neither ECLB_VIP nor DNS_NAME is set", source);
  auto address = vip_text.empty() ? resolve(dns_name) : IpAddress::parse(vip_text);
  if (!address) {
    const char* key = vip_text.empty() ? "DNS_NAME" : "ECLB_VIP";
    return std::move(address).context(at(key) + ": " + key);
  }
  vip.endpoint.address = *address;
  auto certificate = find_certificate(get("ECLB_TLS_CERT"), get("ECLB_TLS_KEY"), source);
  if (!certificate) return std::move(certificate).error();
  const std::string mode = get("ECLB_MODE");
  if (mode.empty()) vip.mode = *certificate ? abi::ForwardMode::kL7Proxy : abi::ForwardMode::kFullNat;
  else if (mode == "fullnat") vip.mode = abi::ForwardMode::kFullNat;
  else if (mode == "dsr-ipip") vip.mode = abi::ForwardMode::kDsrIpip;
  else if (mode == "dsr-gue") vip.mode = abi::ForwardMode::kDsrGue;
  else if (mode == "l7") vip.mode = abi::ForwardMode::kL7Proxy;
  else return make_error("{}: ECLB_MODE \"{}\" (expected fullnat, dsr-ipip, dsr-gue or l7)", at("ECLB_MODE"), mode);
  const bool tls = vip.mode == abi::ForwardMode::kL7Proxy && certificate->has_value();
  if (tls) {
    // The image: TLS on 443, plain HTTP on 80 answered with a redirect to https://DNS_NAME.
    vip.l7.certificates.push_back(**certificate);
    vip.l7.redirect_port = 80;
    vip.l7.redirect_host = dns_name;
  }
  const std::string port = get("ECLB_VIP_PORT");
  auto parsed_port = parse_port(port.empty() ? (tls ? "443" : "80") : port);
  if (!parsed_port) return std::move(parsed_port).context(at("ECLB_VIP_PORT") + ": ECLB_VIP_PORT");
  vip.endpoint.port = *parsed_port;
  if (vip.endpoint.port == vip.l7.redirect_port) vip.l7.redirect_port = 0;
  for (const BackendConfig& backend : pool.backends) {
    if (backend.endpoint.address.family != vip.endpoint.address.family) {
      return make_error("{}: gateway {} and the VIP {} are of different address families", at("GATEWAY_LIST"),
                        backend.endpoint.to_string(), vip.endpoint.address.to_string());
    }
  }
  std::erase_if(base.pools, [](const PoolConfig& p) { return p.name == "gateways"; });
  std::erase_if(base.vips, [](const VipConfig& v) { return v.name == "gateways"; });
  base.pools.push_back(std::move(pool));
  base.vips.push_back(std::move(vip));
  base.source = source;
  return base;
}

}  // namespace eclb
