// Incremental HTTP/1.x message framing for the L7 proxy (nodejs http-parser), one parser
// per direction of a connection:
//   - RequestParser: the client's request head (fed as it arrives, never parsed twice),
//     then its body, so exactly one request's bytes reach the gateway; what follows
//     (a pipelined request, a smuggling attempt) is never forwarded.
//   - ResponseParser: the gateway's response head (held until complete, so a gateway
//     that closes mid-head gets the client a 502, never a truncated head), its status
//     (only 101 to a WebSocket upgrade turns the connection into a tunnel), then its body,
//     so the proxy knows when the response ended.
// Line endings per RFC 9112 §2.2: bare LF is accepted as CRLF.
#pragma once

#include <http_parser.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "control/l7/http_head.h"

namespace eclb::ctl {

class RequestParser {
 public:
  enum class State { kHead, kBody, kComplete, kTooLarge, kBad };

  explicit RequestParser(size_t max_head_bytes);
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Feeds client bytes; returns how many belong to the current request (the rest, after
  // the head is complete and the session has not asked for the body yet, or after the
  // request's end, is not taken). Stops at the end of the head: state() is then kBody or
  // kComplete (no body), kTooLarge past max_head_bytes, or kBad (error()).
  size_t feed(std::string_view data);
  // Ready for the next request on the same connection.
  void reset();
  State state() const noexcept { return state_; }
  const RequestHead& head() const noexcept { return head_; }
  // The client lets the connection carry another request after this one (HTTP/1.1
  // without "Connection: close", HTTP/1.0 with "keep-alive").
  bool keep_alive() const noexcept { return keep_alive_; }
  const std::string& error() const noexcept { return error_; }
  size_t head_bytes() const noexcept { return head_bytes_; }

 private:
  static int on_url(http_parser* parser, const char* at, size_t length);
  static int on_header_field(http_parser* parser, const char* at, size_t length);
  static int on_header_value(http_parser* parser, const char* at, size_t length);
  static int on_headers_complete(http_parser* parser);
  static int on_message_complete(http_parser* parser);
  void finish_head();

  http_parser parser_{};
  http_parser_settings settings_{};
  RequestHead head_;
  State state_ = State::kHead;
  std::string error_;
  size_t max_head_bytes_;
  size_t head_bytes_ = 0;
  bool in_value_ = false;
  bool headers_done_ = false;
  bool message_done_ = false;
  bool resume_lf_ = false;
  bool keep_alive_ = false;
};

class ResponseParser {
 public:
  enum class State { kHead, kBody, kComplete, kTooLarge, kBad };

  // `head_request`: the request was HEAD (the response has no body whatever it says).
  ResponseParser(size_t max_head_bytes, bool head_request);
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  // Feeds gateway bytes; returns how many belong to the current response. Stops at the
  // end of the head (state kBody, or kComplete for a response without a body) and at
  // the end of the response. An interim response (1xx but 101) is part of the head.
  size_t feed(std::string_view data);
  // The gateway closed: a response delimited by the close is complete.
  void end_of_input();
  State state() const noexcept { return state_; }
  int status() const noexcept { return status_; }
  // Once the head is complete: the body ends only where the gateway closes, so the
  // client must see the connection close too.
  bool delimited_by_close() const noexcept { return delimited_by_close_; }
  const std::string& error() const noexcept { return error_; }

 private:
  static int on_headers_complete(http_parser* parser);
  static int on_message_complete(http_parser* parser);

  http_parser parser_{};
  http_parser_settings settings_{};
  State state_ = State::kHead;
  std::string error_;
  size_t max_head_bytes_;
  size_t head_bytes_ = 0;
  bool head_request_;
  int status_ = 0;
  bool delimited_by_close_ = false;
  bool headers_done_ = false;
  bool message_done_ = false;
};

}  // namespace eclb::ctl
