// IpAddress and Endpoint: IPv4/IPv6 addresses and address:port pairs as the config, the
// table builder and the CLI see them, stored the way the table region stores them
// (network-order bytes, IPv4 in bytes 0-3). Parsing is strict; formatting is canonical.
#pragma once

#include <sys/socket.h>

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "abi/table_region.h"

namespace eclb {

struct IpAddress {
  abi::AddressFamily family = abi::AddressFamily::kNone;
  std::array<uint8_t, 16> bytes{};

  // Accepts dotted-quad IPv4 or any RFC 4291 IPv6 text form (no brackets, no zone).
  static Result<IpAddress> parse(std::string_view text);
  static IpAddress from_bytes(abi::AddressFamily family, const uint8_t (&bytes)[16]);
  std::string to_string() const;  // inet_ntop form
  bool is_v4() const noexcept { return family == abi::AddressFamily::kIpv4; }
  bool is_v6() const noexcept { return family == abi::AddressFamily::kIpv6; }

  auto operator<=>(const IpAddress&) const = default;
};

struct Endpoint {
  IpAddress address;
  uint16_t port = 0;

  // "10.0.0.1:80", "[2001:db8::1]:80". The port must be 1-65535.
  static Result<Endpoint> parse(std::string_view text);
  std::string to_string() const;

  auto operator<=>(const Endpoint&) const = default;
};

// An address with a prefix length ("10.0.0.2/24"): an interface address and its on-link
// subnet.
struct IpPrefix {
  IpAddress address;
  uint8_t length = 0;

  static Result<IpPrefix> parse(std::string_view text);
  bool contains(const IpAddress& other) const noexcept;
  std::string to_string() const;

  auto operator<=>(const IpPrefix&) const = default;
};

// Fills a sockaddr_in / sockaddr_in6 for `endpoint`; returns its length.
unsigned to_sockaddr(const Endpoint& endpoint, sockaddr_storage& out) noexcept;
// The reverse, for AF_INET and AF_INET6 (anything else: family kNone).
Endpoint from_sockaddr(const sockaddr_storage& in) noexcept;

// Parses a decimal port 1-65535.
Result<uint16_t> parse_port(std::string_view text);

}  // namespace eclb
