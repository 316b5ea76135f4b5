// PROXY protocol version 2 (haproxy's spec, section 2.2): the binary header a gateway
// reads first to learn the client's address when it is not behind X-Forwarded-For.
#pragma once

#include <cstring>
#include <string>

#include "common/ip_address.h"

namespace eclb::ctl {

// PROXY command over TCP from `client` to `destination` (same address family).
inline std::string proxy_protocol_v2(const Endpoint& client, const Endpoint& destination) {
  static constexpr char kSignature[12] = {'\r', '\n', '\r', '\n', '\0', '\r', '\n', 'Q', 'U', 'I', 'T', '\n'};
  const bool v6 = client.address.is_v6();
  const size_t address_bytes = v6 ? 16 : 4;
  std::string out(kSignature, sizeof kSignature);
  out += static_cast<char>(0x21);             // version 2, PROXY
  out += static_cast<char>(v6 ? 0x21 : 0x11);  // AF_INET6 / AF_INET, STREAM
  const size_t length = 2 * address_bytes + 4;
  out += static_cast<char>(length >> 8);
  out += static_cast<char>(length & 0xff);
  out.append(reinterpret_cast<const char*>(client.address.bytes.data()), address_bytes);
  out.append(reinterpret_cast<const char*>(destination.address.bytes.data()), address_bytes);
  for (const uint16_t port : {client.port, destination.port}) {
    out += static_cast<char>(port >> 8);
    out += static_cast<char>(port & 0xff);
  }
  return out;
}

}  // namespace eclb::ctl
