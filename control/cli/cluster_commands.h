// eclbctl cluster: this host's state (through the admin socket) beside each peer's (GET
// /state on its metrics listener, fetched all at once, each bounded by
// cluster.timeout_ms, so a peer that is down costs at most that). Flags every VIP whose
// Maglev table digest differs between the hosts that answered, a VIP some host lacks,
// and a flow hash seed that differs: such hosts send the same flow to different
// backends, which breaks DSR connections the router moves between them.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace eclb::ctl::cli {

// hosts: [{name, address, state} or {name, address, error}] (this host first).
nlohmann::json gather_cluster(const nlohmann::json& admin_answer);
// What differs between the hosts that answered, one line each ("" when nothing).
std::vector<std::string> cluster_differences(const nlohmann::json& hosts);
std::string render_cluster(const nlohmann::json& hosts, bool json);

}  // namespace eclb::ctl::cli
