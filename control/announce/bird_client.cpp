// BIRD control socket client (see bird_client.h).
#include "control/announce/bird_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/owned_fd.h"

namespace eclb::ctl {
namespace {

bool is_code(std::string_view line) {
  return line.size() >= 5 && std::isdigit(static_cast<unsigned char>(line[0])) &&
         std::isdigit(static_cast<unsigned char>(line[1])) && std::isdigit(static_cast<unsigned char>(line[2])) &&
         std::isdigit(static_cast<unsigned char>(line[3])) && (line[4] == ' ' || line[4] == '-');
}

// Whitespace-separated words; the last one takes the rest of the line.
std::vector<std::string> words(std::string_view text, size_t count) {
  std::vector<std::string> out;
  size_t at = 0;
  while (out.size() + 1 < count) {
    at = text.find_first_not_of(" \t", at);
    if (at == std::string_view::npos) break;
    const size_t end = std::min(text.find_first_of(" \t", at), text.size());
    out.emplace_back(text.substr(at, end - at));
    at = end;
  }
  at = at == std::string_view::npos ? text.size() : text.find_first_not_of(" \t", at);
  out.emplace_back(at == std::string_view::npos ? std::string_view{} : text.substr(at));
  while (out.size() < count) out.emplace_back();
  return out;
}

// Reads until `buffer` holds a whole reply or the deadline passes.
Result<void> read_reply(int fd, std::string& buffer, std::chrono::steady_clock::time_point deadline) {
  char chunk[4096];
  while (!BirdClient::complete(buffer)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return make_error("BIRD did not answer in time");
    pollfd ready{fd, POLLIN, 0};
    const int polled = poll(&ready, 1, static_cast<int>(left.count()));
    if (polled < 0 && errno != EINTR) return make_error("poll: {}", std::strerror(errno));
    if (polled <= 0) continue;
    const ssize_t got = read(fd, chunk, sizeof chunk);
    if (got == 0) return make_error("BIRD closed the control connection");
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return make_error("read: {}", std::strerror(errno));
    }
    buffer.append(chunk, static_cast<size_t>(got));
    if (buffer.size() > (16u << 20)) return make_error("BIRD's reply is too long");
  }
  return success();
}

}  // namespace

bool BirdClient::complete(std::string_view buffer) {
  // The last complete line ends the reply when it is "DDDD text".
  size_t start = 0;
  while (start < buffer.size()) {
    const size_t end = buffer.find('\n', start);
    if (end == std::string_view::npos) return false;
    const std::string_view line = buffer.substr(start, end - start);
    if (is_code(line) && line[4] == ' ' && end + 1 == buffer.size()) return true;
    start = end + 1;
  }
  return false;
}

std::vector<BirdLine> BirdClient::parse(std::string_view buffer) {
  std::vector<BirdLine> lines;
  int code = 0;
  size_t start = 0;
  while (start < buffer.size()) {
    size_t end = buffer.find('\n', start);
    if (end == std::string_view::npos) end = buffer.size();
    const std::string_view line = buffer.substr(start, end - start);
    start = end + 1;
    if (is_code(line)) {
      code = std::stoi(std::string(line.substr(0, 4)));
      lines.push_back({code, std::string(line.substr(5))});
    } else if (!line.empty() && line.front() == ' ') {
      lines.push_back({code, std::string(line.substr(1))});  // continues the previous code
    }
  }
  return lines;
}

Result<std::vector<BirdLine>> BirdClient::command(std::string_view line) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path_.size() >= sizeof address.sun_path) return make_error("BIRD socket path too long");
  std::memcpy(address.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
  const OwnedFd connection(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (connection.get() < 0) return make_error("socket: {}", std::strerror(errno));
  if (connect(connection.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    return make_error("cannot reach BIRD at {}: {}", socket_path_, std::strerror(errno));
  }
  std::string buffer;
  if (auto greeting = read_reply(connection.get(), buffer, deadline); !greeting) return std::move(greeting).error();
  const std::string request = std::string(line) + "\n";
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = send(connection.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error("send to BIRD: {}", std::strerror(errno));
    }
    sent += static_cast<size_t>(n);
  }
  buffer.clear();
  if (auto reply = read_reply(connection.get(), buffer, deadline); !reply) return std::move(reply).error();
  std::vector<BirdLine> lines = parse(buffer);
  if (!lines.empty() && lines.back().code >= 8000) {
    return make_error("BIRD refused \"{}\": {}", line, lines.back().text);
  }
  return lines;
}

Result<void> BirdClient::configure() const {
  auto lines = command("configure");
  if (!lines) return std::move(lines).error();
  // 0003 Reconfigured, 0004 in progress, 0018 confirmed, 0019 nothing to do; anything
  // else (e.g. 0020 "Shutdown in progress") did not apply the file.
  const int code = lines->empty() ? 0 : lines->back().code;
  if (code == 3 || code == 4 || code == 18 || code == 19) return success();
  return make_error("BIRD configure: {}", lines->empty() ? "no answer" : lines->back().text);
}

Result<std::vector<BirdProtocol>> BirdClient::protocols() const {
  auto lines = command("show protocols");
  if (!lines) return std::move(lines).error();
  std::vector<BirdProtocol> out;
  for (const BirdLine& line : *lines) {
    if (line.code != 1002) continue;  // 2002: the header
    const auto w = words(line.text, 6);
    out.push_back({w[0], w[1], w[2], w[3], w[4], w[5]});
  }
  return out;
}

Result<std::vector<BirdBfdSession>> BirdClient::bfd_sessions() const {
  auto lines = command("show bfd sessions");
  if (!lines) return std::move(lines).error();
  std::vector<BirdBfdSession> out;
  for (const BirdLine& line : *lines) {
    if (line.code != 1020) continue;
    const auto w = words(line.text, 5);
    if (w[0].empty() || w[0] == "IP" || w[0].ends_with(':')) continue;  // headers, "bfd1:" names
    out.push_back({w[0], w[1], w[2], w[3]});
  }
  return out;
}

}  // namespace eclb::ctl
