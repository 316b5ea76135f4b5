// The head of an HTTP/1.x request as the L7 proxy needs it, and rendered again for the
// gateway with the forwarding headers the nginx image set. Parsing is incremental
// (http_message.h); parse_request_head parses a whole buffer at once.
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

// Parses the request head at the start of `buffer` (RequestParser in one go). kTooLarge
// once `max_bytes` pass without the blank line that ends the head.
HeadParse parse_request_head(std::string_view buffer, size_t max_bytes);

struct ForwardedFor {
  std::string client_address;  // "192.0.2.7" or "2001:db8::7"
  bool tls = false;            // X-Forwarded-Proto https or http
  std::string target;          // the target to send (a pin's path prefix stripped)
};

// The head for the gateway: request line with `forwarded.target`; X-Forwarded-For
// (appended to), X-Real-IP and X-Forwarded-Proto set; Host kept; hop-by-hop headers
// dropped; "Connection: Upgrade" for upgrades, else "Connection: close" (each request
// gets a gateway connection of its own, as nginx's proxy_pass without upstream keepalive).
std::string render_upstream_head(const RequestHead& head, const ForwardedFor& forwarded);

// The start of the gateway's response (interim 1xx responses, the complete final head,
// maybe the first body bytes) as the client gets it: the final head's Connection and
// Keep-Alive headers are the gateway connection's business (hop-by-hop, RFC 9110
// §7.6.1), so they are replaced by the client connection's "Connection: keep-alive" or
// "Connection: close"; everything else is kept as it is.
std::string client_response_head(std::string_view start, bool keep_alive);

// A complete response with a short text body, closing the connection.
std::string render_response(int status, std::string_view reason, std::string_view body,
                            std::string_view extra_headers = {});

// The host part of a Host header ("example.com:8443" -> "example.com", "[::1]:80" -> "[::1]").
std::string_view host_without_port(std::string_view host);

}  // namespace eclb::ctl
