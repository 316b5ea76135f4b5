// The admin socket's requests (see admin_handler.h).
#include "control/daemon/admin_handler.h"

#include "abi/admin_protocol.h"
#include "common/log.h"
#include "control/daemon/control_daemon.h"
#include "control/daemon/host_state.h"

namespace eclb::ctl {

using nlohmann::json;
namespace admin = abi::admin;

Result<std::pair<std::string, Endpoint>> AdminHandler::find_backend(const std::string& selector,
                                                                     const std::string& pool_name) const {
  std::vector<std::pair<std::string, Endpoint>> found;
  const auto endpoint = Endpoint::parse(selector);
  for (const PoolConfig& pool : daemon_.config().pools) {
    if (!pool_name.empty() && pool.name != pool_name) continue;
    for (const BackendConfig& backend : pool.backends) {
      if (backend.name == selector || (endpoint && backend.endpoint == *endpoint)) found.emplace_back(pool.name, backend.endpoint);
    }
  }
  if (found.empty()) return make_error("no backend \"{}\"{}", selector, pool_name.empty() ? "" : " in pool " + pool_name);
  if (found.size() > 1) return make_error("backend \"{}\" is in several pools: name one with --pool", selector);
  return found.front();
}

json AdminHandler::handle(const json& request) {
  const std::string command = request.value(admin::kCommand, "");
  const auto fail = [](const std::string& message) { return json{{admin::kOk, false}, {admin::kError, message}}; };
  const auto published = [&](const Result<std::optional<PublishReport>>& report) {
    if (!report) return fail(report.error().message);
    return json{{admin::kOk, true}, {admin::kGeneration, daemon_.generation()}, {admin::kPublished, report->has_value()}};
  };
  if (command == admin::kReload) {
    log::info("control", "reload requested through the admin socket");
    auto report = daemon_.reload();
    if (!report) log::error("control", "{}", report.error().message);  // as for SIGHUP
    return published(report);
  }
  if (command == admin::kStatus) {
    return {{admin::kOk, true},
            {admin::kGeneration, daemon_.generation()},
            {"config", daemon_.config().source},
            {"publishes", daemon_.publications().count},
            {"vips", daemon_.config().vips.size()},
            {"health_checks", daemon_.health().checks_run()},
            {"l7", l7_status()}};
  }
  if (command == admin::kHealth) {
    json backends = json::array();
    for (const BackendHealth& backend : daemon_.health().snapshot()) {
      const OperatorOverrides::Key key{backend.pool, backend.backend.endpoint};
      backends.push_back({{"pool", backend.pool},
                          {"name", backend.backend.name},
                          {"address", backend.backend.endpoint.to_string()},
                          {"health", to_string(backend.state)},
                          {"drained", daemon_.overrides().drained(key)},
                          {"weight", daemon_.overrides().weight(key, backend.backend.weight, daemon_.now())},
                          {"check", to_string(backend.check.kind)},
                          {"passive", backend.passive},
                          {"refused_connections", backend.passive_failures},
                          {"checks", backend.checks},
                          {"last_ok", backend.checked ? json(backend.last.ok) : json(nullptr)},
                          {"last_detail", backend.checked ? backend.last.detail : "not checked yet"},
                          {"last_latency_ms", backend.last.latency.count() / 1000.0}});
    }
    return {{admin::kOk, true}, {admin::kBackends, backends}};
  }
  if (command == admin::kWithdraw || command == admin::kAnnounce) return announce_command(command, request);
  if (command == admin::kAnnouncements) return announcements();
  if (command == admin::kCluster) {
    json peers = json::array();
    for (const ClusterPeerConfig& peer : daemon_.config().cluster.peers) {
      peers.push_back({{"name", peer.name}, {"address", peer.address.to_string()}});
    }
    return {{admin::kOk, true},
            {"self", host_state(daemon_)},
            {"peers", peers},
            {"timeout_ms", daemon_.config().cluster.timeout_ms}};
  }
  if (command != admin::kDrain && command != admin::kUndrain && command != admin::kWeight) {
    return fail(fmt::format("unknown command \"{}\"", command));
  }
  auto backend = find_backend(request.value(admin::kBackend, ""), request.value(admin::kPool, ""));
  if (!backend) return fail(backend.error().message);
  const OperatorOverrides::Key key{backend->first, backend->second};
  if (command == admin::kWeight) {
    const auto& weight = request.contains(admin::kWeightValue) ? request[admin::kWeightValue] : json();
    if (!weight.is_number_unsigned() || weight.get<uint64_t>() > 1000000) {
      return fail("weight must be an integer 0-1000000");
    }
    uint32_t configured = 1;
    for (const BackendConfig& b : daemon_.config().find_pool(backend->first)->backends) {
      if (b.endpoint == backend->second) configured = b.weight;
    }
    const auto ramp = std::chrono::milliseconds(request.value(admin::kRampMs, uint64_t{0}));
    daemon_.overrides().set_weight(key, configured, weight.get<uint32_t>(), ramp, daemon_.now());
    log::info("control", "weight backend={} weight={} ramp_ms={}", backend->second.to_string(), weight.get<uint32_t>(),
              ramp.count());
  } else {
    daemon_.overrides().drain(key, command == admin::kDrain);
    log::info("control", "{} backend={}", command, backend->second.to_string());
  }
  return published(daemon_.publish_now(command));
}

json AdminHandler::announce_command(const std::string& command, const json& request) {
  const std::string vip = request.value(admin::kVip, "");
  if (!daemon_.announcer().enabled()) {
    return {{admin::kOk, false}, {admin::kError, "announcements are off (no announce.bird_socket in the config)"}};
  }
  if (!vip.empty()) {
    bool known = false;
    for (const VipConfig& v : daemon_.config().vips) known = known || v.name == vip;
    if (!known) return {{admin::kOk, false}, {admin::kError, fmt::format("no VIP \"{}\"", vip)}};
  }
  if (command == admin::kWithdraw) daemon_.announcer().withdraw(vip);
  else daemon_.announcer().announce(vip);
  log::info("announce", "{} {} by the operator", command, vip.empty() ? "every VIP" : "vip=" + vip);
  daemon_.evaluate_announcements();  // at once, not at the next tick
  const std::string& error = daemon_.announcer().bird_error();
  if (!error.empty()) return {{admin::kOk, false}, {admin::kError, error}};
  return announcements();
}

json AdminHandler::announcements() const {
  const Announcer& announcer = daemon_.announcer();
  json addresses = json::array();
  for (const AddressState& state : announcer.state()) {
    json vips = json::array();
    for (const VipVerdict& vip : state.verdict.vips) vips.push_back({{"name", vip.name}, {"ok", vip.ok}, {"reason", vip.reason}});
    addresses.push_back({{"address", state.verdict.address.to_string()},
                         {"announced", state.announced},
                         {"since_unix_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                               state.since.time_since_epoch()).count()},
                         {"reason", state.verdict.reason},
                         {"vips", vips}});
  }
  json bird = {{"socket", daemon_.config().announce.bird_socket}, {"error", announcer.bird_error()}};
  if (announcer.enabled()) {
    // BIRD's own view of its sessions, asked now.
    json protocols = json::array();
    if (auto listed = announcer.bird().protocols(); listed) {
      for (const BirdProtocol& p : *listed) {
        protocols.push_back({{"name", p.name}, {"proto", p.proto}, {"state", p.state}, {"since", p.since}, {"info", p.info}});
      }
    } else {
      bird["error"] = listed.error().message;
    }
    json bfd = json::array();
    if (auto sessions = announcer.bird().bfd_sessions(); sessions) {
      for (const BirdBfdSession& b : *sessions) {
        bfd.push_back({{"address", b.address}, {"interface", b.interface}, {"state", b.state}, {"since", b.since}});
      }
    }
    bird["protocols"] = protocols;
    bird["bfd"] = bfd;
  }
  json withdrawn = json::array();
  for (const std::string& vip : announcer.withdrawn()) withdrawn.push_back(vip);
  json peers = json::array();  // announce.peer_check's sources
  for (const PeerStatus& peer : daemon_.peer_status()) {
    peers.push_back({{"name", peer.name}, {"address", peer.address.to_string()}, {"answering", peer.answering},
                     {"error", peer.answering ? "" : peer.error}, {"requests", peer.requests}, {"failures", peer.failures}});
  }
  return {{admin::kOk, true},
          {"enabled", announcer.enabled()},
          {"addresses", addresses},
          {"withdrawn_all", announcer.withdrawn_all()},
          {"withdrawn", withdrawn},
          {"bird", bird},
          {"peers", peers}};
}

json AdminHandler::l7_status() const {
  json out = json::object();
  if (daemon_.l7() == nullptr) return out;
  for (const auto& [vip, c] : daemon_.l7()->counters()) {
    json counters = {{"connections", c->active.load(std::memory_order_relaxed)}};
#define ECLB_L7_JSON(name, help) counters[#name] = c->name.load(std::memory_order_relaxed);
    ECLB_L7_COUNTERS(ECLB_L7_JSON)
#undef ECLB_L7_JSON
    out[vip] = counters;
  }
  return out;
}

}  // namespace eclb::ctl
