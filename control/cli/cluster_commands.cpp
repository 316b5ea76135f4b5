// eclbctl cluster (see cluster_commands.h).
#include "control/cli/cluster_commands.h"

#include <fmt/format.h>

#include <chrono>
#include <future>
#include <map>
#include <set>

#include "common/ip_address.h"
#include "control/cli/http_get.h"

namespace eclb::ctl::cli {

using nlohmann::json;

json gather_cluster(const json& admin_answer) {
  json hosts = json::array();
  hosts.push_back({{"name", admin_answer["self"]["host"]}, {"address", "local"}, {"state", admin_answer["self"]}});
  const auto timeout = std::chrono::milliseconds(admin_answer.value("timeout_ms", 1000));
  std::vector<std::pair<json, std::future<json>>> asked;
  for (const json& peer : admin_answer["peers"]) {
    auto endpoint = Endpoint::parse(peer["address"].get<std::string>());
    asked.emplace_back(peer, std::async(std::launch::async, [endpoint, timeout]() -> json {
      if (!endpoint) return {{"error", endpoint.error().message}};
      auto body = http_get(*endpoint, "/state", timeout);
      if (!body) return {{"error", body.error().message}};
      json state = json::parse(*body, nullptr, false);
      if (state.is_discarded() || !state.is_object()) return {{"error", "not a state answer"}};
      return {{"state", state}};
    }));
  }
  for (auto& [peer, answer] : asked) {
    json host = {{"name", peer["name"]}, {"address", peer["address"]}};
    host.update(answer.get());
    hosts.push_back(std::move(host));
  }
  return hosts;
}

std::vector<std::string> cluster_differences(const json& hosts) {
  std::vector<std::string> out;
  std::vector<const json*> answered;
  for (const json& host : hosts) {
    if (host.contains("state")) answered.push_back(&host);
  }
  if (answered.size() < 2) return out;
  // value -> hosts with it; the most common value is taken as the tier's.
  const auto report = [&](const std::string& what, const std::map<std::string, std::vector<std::string>>& groups) {
    if (groups.size() < 2) return;
    size_t largest = 0;
    for (const auto& [value, names] : groups) largest = std::max(largest, names.size());
    std::string line = what + " differs:";
    for (const auto& [value, names] : groups) {
      std::string list;
      for (const std::string& name : names) list += (list.empty() ? "" : ",") + name;
      line += fmt::format(" {} {}{}", list, value, names.size() == largest ? "" : " (odd one out)");
    }
    out.push_back(line);
  };
  std::map<std::string, std::vector<std::string>> seeds;
  std::set<std::string> vip_names;
  for (const json* host : answered) {
    const json& state = (*host)["state"];
    seeds[state.value("flow_hash_seed", "?")].push_back((*host)["name"]);
    for (const json& vip : state["vips"]) vip_names.insert(vip["name"]);
  }
  report("flow_hash_seed", seeds);
  for (const std::string& name : vip_names) {
    std::map<std::string, std::vector<std::string>> digests;
    for (const json* host : answered) {
      std::string digest = "(no such VIP)";
      for (const json& vip : (*host)["state"]["vips"]) {
        if (vip["name"] == name) digest = vip["digest"];
      }
      digests[digest].push_back((*host)["name"]);
    }
    report(fmt::format("vip {} table", name), digests);
  }
  return out;
}

std::string render_cluster(const json& hosts, bool as_json) {
  const std::vector<std::string> differences = cluster_differences(hosts);
  if (as_json) return json{{"hosts", hosts}, {"differences", differences}}.dump(2) + "\n";
  std::string out = fmt::format("{:<16} {:<22} {:>10} {:<24} {:<20} {:<10} {:<8} {}\n", "HOST", "ADDRESS", "GENERATION",
                                "DATAPLANE", "VIP", "ANNOUNCED", "UP", "DIGEST");
  for (const json& host : hosts) {
    const std::string name = host["name"];
    const std::string address = host["address"];
    if (!host.contains("state")) {
      out += fmt::format("{:<16} {:<22} unreachable: {}\n", name, address, host.value("error", "?"));
      continue;
    }
    const json& state = host["state"];
    std::string dataplane = "none";
    if (state["dataplane"].is_object()) {
      const uint64_t age = state["dataplane"]["heartbeat_age_ms"];
      dataplane = age <= 1000 ? fmt::format("gen {}", state["dataplane"]["adopted_generation"].get<uint64_t>())
                              : fmt::format("stale ({:.1f} s)", age / 1000.0);
    }
    bool first = true;
    for (const json& vip : state["vips"]) {
      const std::string announced = !vip.contains("announced") ? "-" : vip["announced"].get<bool>() ? "yes" : "no";
      out += fmt::format("{:<16} {:<22} {:>10} {:<24} {:<20} {:<10} {:<8} {}\n", first ? name : "", first ? address : "",
                         first ? std::to_string(state["generation"].get<uint64_t>()) : "", first ? dataplane : "",
                         vip["name"].get<std::string>(), announced,
                         fmt::format("{}/{}", vip["up"].get<uint32_t>(), vip["members"].get<uint32_t>()),
                         vip["digest"].get<std::string>().substr(0, 19));
      first = false;
    }
    if (first) out += fmt::format("{:<16} {:<22} {:>10} {:<24} (no VIPs)\n", name, address, state["generation"].get<uint64_t>(), dataplane);
  }
  for (const std::string& line : differences) out += "DIFFERS: " + line + "\n";
  if (differences.empty()) out += "every host that answered routes alike (same digests and flow hash seed)\n";
  return out;
}

}  // namespace eclb::ctl::cli
