// Incremental request and response framing (see http_message.h).
#include "control/l7/http_message.h"

#include <strings.h>

#include <algorithm>
#include <climits>

namespace eclb::ctl {
namespace {

// RFC 9110 §5.6.2: a header name is a token.
bool is_token(std::string_view name) {
  if (name.empty()) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

// --- requests -------------------------------------------------------------------------

RequestParser::RequestParser(size_t max_head_bytes) : max_head_bytes_(max_head_bytes) {
  settings_.on_url = on_url;
  settings_.on_header_field = on_header_field;
  settings_.on_header_value = on_header_value;
  settings_.on_headers_complete = on_headers_complete;
  settings_.on_message_complete = on_message_complete;
  reset();
}

void RequestParser::reset() {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
  head_ = RequestHead{};
  state_ = State::kHead;
  error_.clear();
  head_bytes_ = 0;
  in_value_ = headers_done_ = message_done_ = resume_lf_ = keep_alive_ = false;
}

int RequestParser::on_url(http_parser* parser, const char* at, size_t length) {
  static_cast<RequestParser*>(parser->data)->head_.target.append(at, length);
  return 0;
}

int RequestParser::on_header_field(http_parser* parser, const char* at, size_t length) {
  auto* self = static_cast<RequestParser*>(parser->data);
  if (self->in_value_ || self->head_.headers.empty()) self->head_.headers.emplace_back();
  self->in_value_ = false;
  self->head_.headers.back().first.append(at, length);
  return 0;
}

int RequestParser::on_header_value(http_parser* parser, const char* at, size_t length) {
  auto* self = static_cast<RequestParser*>(parser->data);
  self->in_value_ = true;
  self->head_.headers.back().second.append(at, length);
  return 0;
}

int RequestParser::on_headers_complete(http_parser* parser) {
  auto* self = static_cast<RequestParser*>(parser->data);
  self->headers_done_ = true;
  http_parser_pause(parser, 1);  // the session routes before any body byte is taken
  return 0;
}

int RequestParser::on_message_complete(http_parser* parser) {
  auto* self = static_cast<RequestParser*>(parser->data);
  self->message_done_ = true;
  http_parser_pause(parser, 1);  // what follows is another request: not this one's
  return 0;
}

void RequestParser::finish_head() {
  head_.method = http_method_str(static_cast<http_method>(parser_.method));
  head_.version_minor = parser_.http_minor;
  if (parser_.http_major != 1 || parser_.method == HTTP_CONNECT) {
    error_ = parser_.method == HTTP_CONNECT ? "CONNECT is not proxied" : "only HTTP/1.x is proxied";
    state_ = State::kBad;
    return;
  }
  if (head_.target.empty() || head_.target.front() != '/') {
    error_ = "the request target must be a path";
    state_ = State::kBad;
    return;
  }
  // Header names: a space or other separator makes the request invalid (nginx: 400), so
  // "X-Real-IP : forged" never reaches a gateway beside eclb's own. Names with an
  // underscore are dropped, as nginx drops them by default (ignore_invalid_headers):
  // some servers read them as the hyphenated header.
  std::vector<std::pair<std::string, std::string>> kept;
  for (auto& [name, value] : head_.headers) {
    if (!is_token(name)) {
      error_ = "invalid header name";
      state_ = State::kBad;
      return;
    }
    if (name.find('_') != std::string::npos) continue;
    kept.emplace_back(std::move(name), std::move(value));
  }
  head_.headers = std::move(kept);
  // Only a WebSocket upgrade is relayed as one; any other Upgrade is an ordinary request.
  const std::string* upgrade = head_.find("Upgrade");
  head_.upgrade = parser_.upgrade != 0 && upgrade != nullptr && equals_ignoring_case(*upgrade, "websocket");
  keep_alive_ = http_should_keep_alive(&parser_) != 0;
  const bool chunked = (parser_.flags & F_CHUNKED) != 0;
  const bool has_length = parser_.content_length != ULLONG_MAX && parser_.content_length != 0;
  state_ = head_.upgrade || (!chunked && !has_length) ? State::kComplete : State::kBody;
}

size_t RequestParser::feed(std::string_view data) {
  if (data.empty() || (state_ != State::kHead && state_ != State::kBody)) return 0;
  if (state_ == State::kHead) {
    // Never parse past the limit: what is beyond it cannot be part of an acceptable head.
    const size_t room = max_head_bytes_ + 1 - std::min(head_bytes_, max_head_bytes_);
    const std::string_view part = data.substr(0, std::min(data.size(), room));
    const size_t parsed = http_parser_execute(&parser_, &settings_, part.data(), part.size());
    const auto error = HTTP_PARSER_ERRNO(&parser_);
    head_bytes_ += parsed;
    if (error != HPE_OK && error != HPE_PAUSED) {
      error_ = http_errno_description(error);
      state_ = State::kBad;
      return parsed;
    }
    if (!headers_done_) {
      if (head_bytes_ > max_head_bytes_) state_ = State::kTooLarge;
      return parsed;
    }
    // Paused in on_headers_complete, http-parser stops *at* the head's last LF and
    // expects it again on resume; it is the head's, so it is taken here and replayed
    // before the body (resume_lf_).
    head_bytes_ += 1;
    resume_lf_ = true;
    if (head_bytes_ > max_head_bytes_) {
      state_ = State::kTooLarge;
      return parsed + 1;
    }
    finish_head();
    return parsed + 1;
  }
  http_parser_pause(&parser_, 0);
  if (resume_lf_) {
    resume_lf_ = false;
    http_parser_execute(&parser_, &settings_, "\n", 1);
    if (HTTP_PARSER_ERRNO(&parser_) != HPE_OK) {
      error_ = http_errno_description(HTTP_PARSER_ERRNO(&parser_));
      state_ = State::kBad;
      return 0;
    }
  }
  const size_t parsed = http_parser_execute(&parser_, &settings_, data.data(), data.size());
  const auto error = HTTP_PARSER_ERRNO(&parser_);
  if (error != HPE_OK && error != HPE_PAUSED) {
    error_ = http_errno_description(error);
    state_ = State::kBad;
  } else if (message_done_) {
    state_ = State::kComplete;
  }
  return parsed;
}

// --- responses ------------------------------------------------------------------------

ResponseParser::ResponseParser(size_t max_head_bytes, bool head_request)
    : max_head_bytes_(max_head_bytes), head_request_(head_request) {
  http_parser_init(&parser_, HTTP_RESPONSE);
  parser_.data = this;
  settings_.on_headers_complete = on_headers_complete;
  settings_.on_message_complete = on_message_complete;
}

int ResponseParser::on_headers_complete(http_parser* parser) {
  auto* self = static_cast<ResponseParser*>(parser->data);
  const int status = parser->status_code;
  if (status >= 100 && status < 200 && status != 101) return 0;  // interim: the final head follows
  self->status_ = status;
  self->headers_done_ = true;
  // RFC 9112 §6.3: no body after 1xx, 204, 304 or to HEAD; else chunked or a length, or
  // the body runs to the close.
  const bool no_body = status < 200 || status == 204 || status == 304 || self->head_request_;
  self->delimited_by_close_ = !no_body && (parser->flags & F_CHUNKED) == 0 && parser->content_length == ULLONG_MAX;
  return self->head_request_ ? 1 : 0;  // 1: no body, whatever the headers say
}

int ResponseParser::on_message_complete(http_parser* parser) {
  auto* self = static_cast<ResponseParser*>(parser->data);
  if (!self->headers_done_) return 0;  // the end of an interim response
  self->message_done_ = true;
  http_parser_pause(parser, 1);  // what follows is not part of this exchange
  return 0;
}

size_t ResponseParser::feed(std::string_view data) {
  if (data.empty() || (state_ != State::kHead && state_ != State::kBody)) return 0;
  std::string_view part = data;
  if (state_ == State::kHead) part = data.substr(0, std::min(data.size(), max_head_bytes_ + 1 - head_bytes_));
  const size_t parsed = http_parser_execute(&parser_, &settings_, part.data(), part.size());
  const auto error = HTTP_PARSER_ERRNO(&parser_);
  if (state_ == State::kHead) head_bytes_ += parsed;
  if (error != HPE_OK && error != HPE_PAUSED) {
    // http-parser stops at the end of a 101's head (what follows is the new protocol's).
    if (!(headers_done_ && status_ == 101)) {
      error_ = http_errno_description(error);
      state_ = State::kBad;
      return parsed;
    }
  }
  if (headers_done_ && state_ == State::kHead) state_ = State::kBody;
  if (message_done_ || (headers_done_ && status_ == 101)) state_ = State::kComplete;
  if (state_ == State::kHead && head_bytes_ > max_head_bytes_) state_ = State::kTooLarge;
  return parsed;
}

void ResponseParser::end_of_input() {
  if (state_ != State::kBody) return;
  http_parser_pause(&parser_, 0);
  http_parser_execute(&parser_, &settings_, nullptr, 0);  // EOF: a body delimited by the close ends here
  if (message_done_) state_ = State::kComplete;
}

}  // namespace eclb::ctl
