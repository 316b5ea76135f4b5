// The head of an HTTP/1.x request as the L7 proxy needs it: parsed (nodejs http-parser)
// with a size limit, and rendered again for the gateway with the forwarding headers the
// nginx image set. Bodies are never parsed: after the head, bytes are relayed as they are.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace eclb::ctl {

struct RequestHead {
  std::string method;
  std::string target;  // as sent: "/vm2/agent?id=1"
  int version_minor = 1;
  std::vector<std::pair<std::string, std::string>> headers;  // in order, names as sent
  bool upgrade = false;     // "Connection: upgrade" + "Upgrade: ..." (WebSocket)

  // The first header of that name (case-insensitive), or nullptr.
  const std::string* find(std::string_view name) const;
};

struct HeadParse {
  enum class Status { kIncomplete, kComplete, kTooLarge, kBad };
  Status status = Status::kIncomplete;
  size_t head_bytes = 0;  // kComplete: bytes of `buffer` the head took (body bytes follow)
  RequestHead head;
  std::string error;      // kBad: why
};

// Parses the request head at the start of `buffer`. kTooLarge once `max_bytes` pass
// without the blank line that ends the head.
HeadParse parse_request_head(std::string_view buffer, size_t max_bytes);

struct ForwardedFor {
  std::string client_address;  // "192.0.2.7" or "2001:db8::7"
  bool tls = false;            // X-Forwarded-Proto https or http
  std::string target;          // the target to send (a pin's path prefix stripped)
};

// The head for the gateway: request line with `forwarded.target`; X-Forwarded-For
// (appended to), X-Real-IP and X-Forwarded-Proto set; Host kept; hop-by-hop headers
// dropped; "Connection: Upgrade" for upgrades, else "Connection: close" (one request per
// connection: the proxy relays bytes, it does not frame responses).
std::string render_upstream_head(const RequestHead& head, const ForwardedFor& forwarded);

// A complete response with a short text body, closing the connection.
std::string render_response(int status, std::string_view reason, std::string_view body,
                            std::string_view extra_headers = {});

// The host part of a Host header ("example.com:8443" -> "example.com", "[::1]:80" -> "[::1]").
std::string_view host_without_port(std::string_view host);

}  // namespace eclb::ctl
