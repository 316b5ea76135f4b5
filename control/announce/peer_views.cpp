// Peers' views of the backends (see peer_views.h).
#include "control/announce/peer_views.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace eclb::ctl {

using nlohmann::json;

Result<PeerView> parse_peer_view(const std::string& body) {
  const json state = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!state.is_object() || !state.contains("vips") || !state["vips"].is_array()) {
    return make_error("not an eclb /state answer");
  }
  PeerView view;
  view.host = state.value("host", "");
  for (const json& vip : state["vips"]) {
    if (!vip.is_object() || !vip.contains("name") || !vip["name"].is_string()) return make_error("a VIP without a name");
    PeerVipView entry;
    entry.name = vip["name"].get<std::string>();
    entry.announced = vip.contains("announced") && vip["announced"].is_boolean() && vip["announced"].get<bool>();
    entry.diverged = vip.contains("diverged") && vip["diverged"].is_boolean() && vip["diverged"].get<bool>();
    if (vip.contains("backends") && vip["backends"].is_array()) {
      for (const json& backend : vip["backends"]) {
        if (!backend.is_object() || !backend.contains("endpoint") || !backend["endpoint"].is_string()) {
          return make_error("VIP {}: a backend without an endpoint", entry.name);
        }
        auto endpoint = Endpoint::parse(backend["endpoint"].get<std::string>());
        if (!endpoint) return make_error("VIP {}: {}", entry.name, endpoint.error().message);
        const auto flag = [&](const char* name) {
          return backend.contains(name) && backend[name].is_boolean() && backend[name].get<bool>();
        };
        entry.backends.push_back({*endpoint, flag("up"), flag("probe_ok")});
      }
    }
    view.vips.push_back(std::move(entry));
  }
  return view;
}

std::vector<ReachedBackend> reached_by_peers(const std::string& vip, const std::vector<Endpoint>& down_here,
                                             const std::vector<PeerView>& peers) {
  std::vector<ReachedBackend> out;
  for (const Endpoint& endpoint : down_here) {
    ReachedBackend reached{endpoint, {}};
    size_t doubting = 0;
    for (const PeerView& peer : peers) {
      for (const PeerVipView& peer_vip : peer.vips) {
        if (peer_vip.name != vip) continue;
        for (const PeerBackendView& backend : peer_vip.backends) {
          if (backend.endpoint != endpoint) continue;
          if (!backend.up || !backend.probe_ok) ++doubting;
          else if (peer_vip.announced && !peer_vip.diverged) reached.reached_by.push_back(peer.host);
        }
      }
    }
    if (!reached.reached_by.empty() && reached.reached_by.size() > doubting) out.push_back(std::move(reached));
  }
  return out;
}

std::string describe(const std::vector<ReachedBackend>& reached) {
  std::string out;
  for (const ReachedBackend& backend : reached) {
    out += fmt::format("{}{} (up at {})", out.empty() ? "" : ", ", backend.endpoint.to_string(),
                       fmt::join(backend.reached_by, ", "));
  }
  return out;
}

}  // namespace eclb::ctl
