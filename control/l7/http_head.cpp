// Request heads: rendered for the gateway, and parsed in one go for tests (see http_head.h).
#include "control/l7/http_head.h"

#include "control/l7/http_message.h"
#include <strings.h>

#include <cstring>

#include <fmt/format.h>

namespace eclb::ctl {
namespace {

bool is_hop_by_hop(std::string_view name) {
  for (const char* hop : {"connection", "keep-alive", "proxy-connection", "x-forwarded-for", "x-real-ip",
                          "x-forwarded-proto"}) {
    if (name.size() == std::strlen(hop) && strncasecmp(name.data(), hop, name.size()) == 0) return true;
  }
  return false;
}

}  // namespace

const std::string* RequestHead::find(std::string_view name) const {
  for (const auto& [field, value] : headers) {
    if (field.size() == name.size() && strncasecmp(field.data(), name.data(), name.size()) == 0) return &value;
  }
  return nullptr;
}

HeadParse parse_request_head(std::string_view buffer, size_t max_bytes) {
  RequestParser parser(max_bytes);
  const size_t taken = parser.feed(buffer);
  HeadParse result;
  switch (parser.state()) {
    case RequestParser::State::kHead: result.status = HeadParse::Status::kIncomplete; return result;
    case RequestParser::State::kTooLarge: result.status = HeadParse::Status::kTooLarge; return result;
    case RequestParser::State::kBad:
      result.status = HeadParse::Status::kBad;
      result.error = parser.error();
      return result;
    case RequestParser::State::kBody:
    case RequestParser::State::kComplete: break;
  }
  result.status = HeadParse::Status::kComplete;
  result.head = parser.head();
  result.head_bytes = taken;
  return result;
}

std::string render_upstream_head(const RequestHead& head, const ForwardedFor& forwarded) {
  std::string out = fmt::format("{} {} HTTP/1.1\r\n", head.method, forwarded.target);
  std::string forwarded_for;
  for (const auto& [name, value] : head.headers) {
    if (!head.upgrade && strcasecmp(name.c_str(), "upgrade") == 0) continue;  // not a WebSocket: no upgrade
    if (is_hop_by_hop(name)) {
      if (strcasecmp(name.c_str(), "x-forwarded-for") == 0) {
        forwarded_for += (forwarded_for.empty() ? "" : ", ") + value;
      }
      continue;
    }
    out += fmt::format("{}: {}\r\n", name, value);
  }
  forwarded_for += (forwarded_for.empty() ? "" : ", ") + forwarded.client_address;
  out += fmt::format("X-Forwarded-For: {}\r\nX-Real-IP: {}\r\nX-Forwarded-Proto: {}\r\nConnection: {}\r\n\r\n",
                     forwarded_for, forwarded.client_address, forwarded.tls ? "https" : "http",
                     head.upgrade ? "Upgrade" : "close");
  return out;
}

std::string client_response_head(std::string_view start, bool keep_alive) {
  // Lines end in LF or CRLF (RFC 9112 §2.2); each head ends with an empty line, and only
  // the head whose status is not an interim 1xx (101 is final) is the final one.
  std::string out;
  out.reserve(start.size() + 24);
  size_t at = 0;
  bool status_line = true;
  bool final_head = false;
  while (at < start.size()) {
    size_t end = start.find('\n', at);
    end = end == std::string_view::npos ? start.size() : end + 1;
    const std::string_view line = start.substr(at, end - at);
    at = end;
    if (status_line) {
      status_line = false;
      final_head = !(line.size() > 9 && line[9] == '1' && line.substr(9, 3) != "101");
    } else if (line == "\r\n" || line == "\n") {
      if (final_head) {
        out += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
        out += line;
        out += start.substr(at);  // the body's first bytes
        return out;
      }
      status_line = true;
    } else if (final_head && line.size() > 11 && (strncasecmp(line.data(), "connection:", 11) == 0 ||
                                                 strncasecmp(line.data(), "keep-alive:", 11) == 0)) {
      continue;
    }
    out += line;
  }
  return out;
}

std::string render_response(int status, std::string_view reason, std::string_view body,
                            std::string_view extra_headers) {
  return fmt::format("HTTP/1.1 {} {}\r\nServer: eclb\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{}"
                     "Connection: close\r\n\r\n{}",
                     status, reason, body.size(), extra_headers, body);
}

std::string_view host_without_port(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  const size_t colon = host.find(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}

}  // namespace eclb::ctl
