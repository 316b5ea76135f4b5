// Strict text <-> address conversion through inet_pton/inet_ntop.
#include "common/ip_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>

namespace eclb {

Result<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return make_error("invalid IP address \"{}\"", text);
  char buffer[INET6_ADDRSTRLEN] = {};
  std::memcpy(buffer, text.data(), text.size());
  IpAddress address;
  if (inet_pton(AF_INET, buffer, address.bytes.data()) == 1) {
    address.family = abi::AddressFamily::kIpv4;
    return address;
  }
  if (inet_pton(AF_INET6, buffer, address.bytes.data()) == 1) {
    address.family = abi::AddressFamily::kIpv6;
    return address;
  }
  return make_error("invalid IP address \"{}\"", text);
}

IpAddress IpAddress::from_bytes(abi::AddressFamily family, const uint8_t (&bytes)[16]) {
  IpAddress address;
  address.family = family;
  const size_t length = family == abi::AddressFamily::kIpv4 ? 4 : 16;
  std::memcpy(address.bytes.data(), bytes, length);
  return address;
}

std::string IpAddress::to_string() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  switch (family) {
    case abi::AddressFamily::kIpv4:
      inet_ntop(AF_INET, bytes.data(), buffer, sizeof buffer);
      return buffer;
    case abi::AddressFamily::kIpv6:
      inet_ntop(AF_INET6, bytes.data(), buffer, sizeof buffer);
      return buffer;
    case abi::AddressFamily::kNone:
      break;
  }
  return "none";
}

Result<uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535) {
    return make_error("invalid port \"{}\" (expected 1-65535)", text);
  }
  return static_cast<uint16_t>(value);
}

Result<Endpoint> Endpoint::parse(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return make_error("invalid endpoint \"{}\" (expected [IPv6]:PORT)", text);
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      return make_error("invalid endpoint \"{}\" (expected IPv4:PORT or [IPv6]:PORT)", text);
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto address = IpAddress::parse(host);
  if (!address) return Error{address.error().message + fmt::format(" in endpoint \"{}\"", text)};
  if (text.front() == '[' && !address->is_v6()) return make_error("brackets around an IPv4 address in \"{}\"", text);
  auto number = parse_port(port);
  if (!number) return Error{number.error().message + fmt::format(" in endpoint \"{}\"", text)};
  return Endpoint{*address, *number};
}

Result<IpPrefix> IpPrefix::parse(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return make_error("invalid prefix \"{}\" (expected ADDRESS/LENGTH)", text);
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) return make_error("invalid prefix \"{}\": {}", text, address.error().message);
  unsigned length = 0;
  const std::string_view digits = text.substr(slash + 1);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
  const unsigned max = address->is_v4() ? 32 : 128;
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || length > max) {
    return make_error("invalid prefix length in \"{}\" (expected 0-{})", text, max);
  }
  return IpPrefix{*address, static_cast<uint8_t>(length)};
}

bool IpPrefix::contains(const IpAddress& other) const noexcept {
  if (other.family != address.family) return false;
  const unsigned full = length / 8, rest = length % 8;
  for (unsigned i = 0; i < full; ++i) {
    if (address.bytes[i] != other.bytes[i]) return false;
  }
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (address.bytes[full] & mask) == (other.bytes[full] & mask);
}

std::string IpPrefix::to_string() const { return fmt::format("{}/{}", address.to_string(), length); }

unsigned to_sockaddr(const Endpoint& endpoint, sockaddr_storage& out) noexcept {
  std::memset(&out, 0, sizeof out);
  if (endpoint.address.is_v6()) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&out);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(endpoint.port);
    std::memcpy(&a->sin6_addr, endpoint.address.bytes.data(), 16);
    return sizeof *a;
  }
  auto* a = reinterpret_cast<sockaddr_in*>(&out);
  a->sin_family = AF_INET;
  a->sin_port = htons(endpoint.port);
  std::memcpy(&a->sin_addr, endpoint.address.bytes.data(), 4);
  return sizeof *a;
}

Endpoint from_sockaddr(const sockaddr_storage& in) noexcept {
  Endpoint endpoint;
  if (in.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&in);
    endpoint.address.family = abi::AddressFamily::kIpv6;
    std::memcpy(endpoint.address.bytes.data(), &a->sin6_addr, 16);
    endpoint.port = ntohs(a->sin6_port);
  } else if (in.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&in);
    endpoint.address.family = abi::AddressFamily::kIpv4;
    std::memcpy(endpoint.address.bytes.data(), &a->sin_addr, 4);
    endpoint.port = ntohs(a->sin_port);
  }
  return endpoint;
}

std::string Endpoint::to_string() const {
  if (address.is_v6()) return fmt::format("[{}]:{}", address.to_string(), port);
  return fmt::format("{}:{}", address.to_string(), port);
}

}  // namespace eclb
