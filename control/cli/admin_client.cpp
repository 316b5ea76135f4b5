// Unix socket request/response for eclbctl.
#include "control/cli/admin_client.h"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "abi/admin_protocol.h"

namespace eclb::ctl::cli {

Result<nlohmann::json> admin_request(const std::string& socket_path, const nlohmann::json& request) {
  sockaddr_un address{};
  if (socket_path.size() >= sizeof address.sun_path) return make_error("admin socket path too long");
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size());
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error("socket: {}", std::strerror(errno));
  timeval timeout{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    const int error = errno;
    close(fd);
    return make_error("cannot reach eclb-control at {}: {}", socket_path, std::strerror(error));
  }
  const std::string line = request.dump() + "\n";
  if (send(fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
    close(fd);
    return make_error("cannot send to eclb-control: {}", std::strerror(errno));
  }
  std::string answer;
  char buffer[65536];
  for (;;) {
    const ssize_t got = recv(fd, buffer, sizeof buffer, 0);
    if (got < 0) {
      const int error = errno;
      close(fd);
      return make_error("no answer from eclb-control: {}", std::strerror(error));
    }
    if (got == 0) break;
    answer.append(buffer, static_cast<size_t>(got));
  }
  close(fd);
  try {
    nlohmann::json parsed = nlohmann::json::parse(answer);
    if (!parsed.value(abi::admin::kOk, false)) {
      return make_error("{}", parsed.value(abi::admin::kError, std::string("request failed")));
    }
    return parsed;
  } catch (const nlohmann::json::exception&) {
    return make_error("eclb-control sent no valid answer");
  }
}

Result<uint64_t> parse_duration_ms(const std::string& text) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  const std::string unit(end, text.data() + text.size());
  if (ec != std::errc() || end == text.data()) return make_error("invalid duration \"{}\" (e.g. 500ms, 30s, 5m, 1h)", text);
  if (unit == "ms") return value;
  if (unit == "s" || unit.empty()) return value * 1000;
  if (unit == "m") return value * 60000;
  if (unit == "h") return value * 3600000;
  return make_error("invalid duration \"{}\" (e.g. 500ms, 30s, 5m, 1h)", text);
}

std::string render_health(const nlohmann::json& answer, bool json) {
  if (json) return answer[abi::admin::kBackends].dump(2) + "\n";
  std::string out = fmt::format("{:<16} {:<12} {:<24} {:<6} {:<8} {:>6} {:<10} {:>7} {:>10}  {}\n", "POOL", "NAME",
                                "ADDRESS", "HEALTH", "DRAINED", "WEIGHT", "CHECK", "CHECKS", "LATENCY", "LAST");
  for (const auto& b : answer[abi::admin::kBackends]) {
    out += fmt::format("{:<16} {:<12} {:<24} {:<6} {:<8} {:>6} {:<10} {:>7} {:>8.1f}ms  {}\n",
                       b["pool"].get<std::string>(), b["name"].get<std::string>(), b["address"].get<std::string>(),
                       b["health"].get<std::string>(), b["drained"].get<bool>() ? "yes" : "no", b["weight"].get<uint32_t>(),
                       b["check"].get<std::string>(), b["checks"].get<uint64_t>(), b["last_latency_ms"].get<double>(),
                       b["last_detail"].get<std::string>());
  }
  return out;
}

}  // namespace eclb::ctl::cli
