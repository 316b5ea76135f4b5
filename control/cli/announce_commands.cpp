// eclbctl announcements (see announce_commands.h).
#include "control/cli/announce_commands.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>

namespace eclb::ctl::cli {

std::string render_announcements(const nlohmann::json& answer, bool json) {
  if (json) return answer.dump(2) + "\n";
  if (!answer.value("enabled", false)) return "announcements are off (no announce.bird_socket in the config)\n";
  std::string out = fmt::format("{:<40} {:<10} {:<20} {}\n", "ADDRESS", "STATE", "SINCE", "WHY");
  for (const auto& address : answer["addresses"]) {
    const auto since = std::chrono::system_clock::time_point(std::chrono::milliseconds(address["since_unix_ms"].get<int64_t>()));
    out += fmt::format("{:<40} {:<10} {:%Y-%m-%d %H:%M:%S} {}\n", address["address"].get<std::string>(),
                       address["announced"].get<bool>() ? "announced" : "withdrawn",
                       std::chrono::floor<std::chrono::seconds>(since), address["reason"].get<std::string>());
    for (const auto& vip : address["vips"]) {
      out += fmt::format("  vip {:<34} {}\n", vip["name"].get<std::string>(), vip["reason"].get<std::string>());
    }
  }
  if (answer.value("withdrawn_all", false)) out += "operator: every VIP withdrawn (eclbctl announce --all undoes it)\n";
  const auto& bird = answer["bird"];
  out += fmt::format("BIRD {}{}\n", bird.value("socket", ""),
                     bird.value("error", "").empty() ? "" : ": " + bird["error"].get<std::string>());
  for (const auto& p : bird.value("protocols", nlohmann::json::array())) {
    const std::string proto = p["proto"].get<std::string>();
    if (proto != "BGP" && proto != "BFD" && proto != "Static") continue;
    out += fmt::format("  {:<16} {:<8} {:<6} {:<20} {}\n", p["name"].get<std::string>(), proto, p["state"].get<std::string>(),
                       p["since"].get<std::string>(), p["info"].get<std::string>());
  }
  for (const auto& b : bird.value("bfd", nlohmann::json::array())) {
    out += fmt::format("  bfd {:<24} {:<10} {:<6} {}\n", b["address"].get<std::string>(), b["interface"].get<std::string>(),
                       b["state"].get<std::string>(), b["since"].get<std::string>());
  }
  for (const auto& peer : answer.value("peers", nlohmann::json::array())) {
    out += fmt::format("peer {:<16} {:<24} {}\n", peer.value("name", ""), peer.value("address", ""),
                       peer.value("answering", false) ? "answering" : "not answering: " + peer.value("error", ""));
  }
  return out;
}

}  // namespace eclb::ctl::cli
