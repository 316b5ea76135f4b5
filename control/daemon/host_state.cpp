// This host's state for the cluster view (see host_state.h).
#include "control/daemon/host_state.h"

#include <fmt/format.h>
#include <unistd.h>

#include <map>
#include <tuple>

#include "control/core/maglev_digest.h"
#include "control/daemon/control_daemon.h"

namespace eclb::ctl {

using nlohmann::json;

namespace {

std::string host_name(const ControlDaemon& daemon) {
  if (!daemon.config().cluster.name.empty()) return daemon.config().cluster.name;
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

}  // namespace

json host_state(ControlDaemon& daemon) {
  std::map<std::string, bool> announced;  // address -> announced now
  for (const AddressState& state : daemon.announcer().state()) {
    announced[state.verdict.address.to_string()] = state.announced;
  }
  // Each backend's latest check, for the peers' isolation test (peer_views.h).
  std::map<std::tuple<std::string, Endpoint>, bool> probe_ok;
  for (const BackendHealth& health : daemon.health().snapshot()) {
    probe_ok[{health.pool, health.backend.endpoint}] =
        health.check.kind == HealthCheckConfig::Kind::kNone || (health.checks > 0 && health.last.ok);
  }
  json vips = json::array();
  if (daemon.published()) {
    for (const VipContent& vip : daemon.published()->vips) {
      std::vector<Endpoint> members;
      uint32_t up = 0;
      std::string pool;
      for (const VipConfig& config : daemon.config().vips) {
        if (config.name == vip.name) pool = config.pool;
      }
      json backends = json::array();
      for (const MemberContent& member : vip.members) {
        members.push_back(member.endpoint);
        up += member.state == abi::BackendState::kUp;
        const auto probed = probe_ok.find({pool, member.endpoint});
        backends.push_back({{"endpoint", member.endpoint.to_string()},
                            {"up", member.state == abi::BackendState::kUp},
                            {"probe_ok", probed != probe_ok.end() && probed->second}});
      }
      const std::string address = vip.endpoint.address.to_string();
      json entry = {{"name", vip.name},
                    {"endpoint", fmt::format("{}/{}", vip.endpoint.to_string(), eclb::to_string(vip.protocol))},
                    {"mode", eclb::to_string(vip.mode)},
                    {"digest", maglev_digest(members, vip.slots)},
                    {"members", vip.members.size()},
                    {"up", up},
                    {"diverged", daemon.diverged().contains(vip.name)},
                    {"backends", std::move(backends)}};
      if (daemon.announcer().enabled()) {
        entry["announced"] = announced.contains(address) && announced[address];
      }
      vips.push_back(std::move(entry));
    }
  }
  const DataplaneView dataplane = daemon.dataplane_view();
  return {{"host", host_name(daemon)},
          {"generation", daemon.generation()},
          {"flow_hash_seed", fmt::format("{:#x}", daemon.config().tables.flow_hash_seed)},
          {"announcing", daemon.announcer().enabled()},
          {"dataplane",
           dataplane.present ? json{{"heartbeat_age_ms", dataplane.heartbeat_age_ms},
                                    {"adopted_generation", dataplane.adopted_generation}}
                             : json(nullptr)},
          {"vips", vips}};
}

}  // namespace eclb::ctl
