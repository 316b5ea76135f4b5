// Request heads: parse with http-parser, render for the gateway (see http_head.h).
#include "control/l7/http_head.h"

#include <http_parser.h>
#include <strings.h>

#include <cstring>

#include <fmt/format.h>

namespace eclb::ctl {
namespace {

struct ParseState {
  RequestHead* head;
  bool in_value = false;
  bool complete = false;
};

int on_url(http_parser* parser, const char* at, size_t length) {
  static_cast<ParseState*>(parser->data)->head->target.append(at, length);
  return 0;
}

int on_header_field(http_parser* parser, const char* at, size_t length) {
  auto* state = static_cast<ParseState*>(parser->data);
  if (state->in_value || state->head->headers.empty()) state->head->headers.emplace_back();
  state->in_value = false;
  state->head->headers.back().first.append(at, length);
  return 0;
}

int on_header_value(http_parser* parser, const char* at, size_t length) {
  auto* state = static_cast<ParseState*>(parser->data);
  state->in_value = true;
  state->head->headers.back().second.append(at, length);
  return 0;
}

int on_headers_complete(http_parser* parser) {
  auto* state = static_cast<ParseState*>(parser->data);
  state->complete = true;
  http_parser_pause(parser, 1);  // the body is not ours to parse
  return 0;
}

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
  HeadParse result;
  const size_t end = buffer.find("\r\n\r\n");
  if (end == std::string_view::npos || end + 4 > max_bytes) {
    result.status = buffer.size() >= max_bytes || end != std::string_view::npos ? HeadParse::Status::kTooLarge
                                                                                : HeadParse::Status::kIncomplete;
    return result;
  }
  http_parser_settings settings{};
  settings.on_url = on_url;
  settings.on_header_field = on_header_field;
  settings.on_header_value = on_header_value;
  settings.on_headers_complete = on_headers_complete;
  http_parser parser;
  http_parser_init(&parser, HTTP_REQUEST);
  ParseState state{&result.head};
  parser.data = &state;
  http_parser_execute(&parser, &settings, buffer.data(), end + 4);
  const auto error = HTTP_PARSER_ERRNO(&parser);
  if (!state.complete || (error != HPE_OK && error != HPE_PAUSED)) {
    result.status = HeadParse::Status::kBad;
    result.error = state.complete ? http_errno_description(error) : "incomplete request head";
    return result;
  }
  if (parser.http_major != 1 || parser.method == HTTP_CONNECT) {
    result.status = HeadParse::Status::kBad;
    result.error = parser.method == HTTP_CONNECT ? "CONNECT is not proxied" : "only HTTP/1.x is proxied";
    return result;
  }
  if (result.head.target.empty() || result.head.target.front() != '/') {
    result.status = HeadParse::Status::kBad;
    result.error = "the request target must be a path";
    return result;
  }
  result.head.method = http_method_str(static_cast<http_method>(parser.method));
  result.head.version_minor = parser.http_minor;
  result.head.upgrade = parser.upgrade != 0;
  result.status = HeadParse::Status::kComplete;
  result.head_bytes = end + 4;
  return result;
}

std::string render_upstream_head(const RequestHead& head, const ForwardedFor& forwarded) {
  std::string out = fmt::format("{} {} HTTP/1.1\r\n", head.method, forwarded.target);
  std::string forwarded_for;
  for (const auto& [name, value] : head.headers) {
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
