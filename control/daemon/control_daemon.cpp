// eclb-control: config -> health -> tables -> shared memory; admin socket; metrics.
#include "control/daemon/control_daemon.h"

#include <grp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "common/log.h"
#include "common/service_notify.h"
#include "config/config_loader.h"
#include "config/env_config.h"
#include "abi/admin_protocol.h"
#include "control/core/table_diff.h"
#include "control/core/table_planner.h"
#include "control/daemon/host_state.h"

namespace eclb::ctl {

using nlohmann::json;

namespace {
// After a withdrawal, how long until the table changes: BIRD's update reaches the router
// and its kernel in tens of milliseconds.
constexpr int kRouterMoveMs = 300;

// The admin socket's group: none when `name` is empty.
Result<std::optional<gid_t>> resolve_group(const std::string& name) {
  if (name.empty()) return std::optional<gid_t>();
  // getgrnam_r with a buffer that grows: a group of many members needs more than 1 KB.
  std::vector<char> buffer(4096);
  group entry{};
  group* found = nullptr;
  int error = 0;
  while ((error = getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found)) == ERANGE) {
    buffer.resize(buffer.size() * 2);
  }
  if (found == nullptr) {
    return make_error("no group \"{}\"{}", name, error != 0 ? fmt::format(" ({})", std::strerror(error)) : "");
  }
  return std::optional<gid_t>(found->gr_gid);
}
}  // namespace

Result<Config> load_daemon_config(const DaemonOptions& options) {
  Result<Config> config = Config{};
  if (!options.env_file.empty()) {
    if (!options.config_path.empty()) config = load_config_file(options.config_path);
    if (!config) return config;
    auto env = read_env_file(options.env_file);
    if (!env) return std::move(env).error();
    config = config_from_env(*env, options.env_file, std::move(*config));
  } else if (!options.config_path.empty()) {
    config = load_config_file(options.config_path);
  } else {
    return make_error("give --config FILE or --env-file FILE");
  }
  if (!config) return config;
  if (!options.segment_override.empty()) config->tables.segment = options.segment_override;
  if (!options.admin_override.empty()) config->control.admin_socket = options.admin_override;
  if (!options.metrics_override.empty()) {
    config->control.metrics_listen = options.metrics_override == "off" ? std::string() : options.metrics_override;
  }
  return config;
}

Result<std::unique_ptr<ControlDaemon>> ControlDaemon::start(const DaemonOptions& options) {
  auto config = load_daemon_config(options);
  if (!config) return std::move(config).error();
  std::unique_ptr<ControlDaemon> daemon(new ControlDaemon(options));
  auto writer = TableWriter::open({config->tables.segment, config->tables.capacity,
                                   std::chrono::milliseconds(config->control.grace_ms)});
  if (!writer) return std::move(writer).error();
  log::info("control", "table region path=\"{}\" {} generation={}", config->tables.segment,
            writer->adopted() ? "adopted" : "created", writer->generation());
  daemon->writer_.emplace(std::move(*writer));
  daemon->admin_handler_ = std::make_unique<AdminHandler>(*daemon);
  daemon->admin_ = std::make_unique<StreamServer>(daemon->loop_, "\n", [d = daemon.get()](const std::string& line) {
    json answer;
    try {
      answer = d->admin_handler_->handle(json::parse(line));
    } catch (const json::exception& error) {
      answer = {{abi::admin::kOk, false}, {abi::admin::kError, fmt::format("bad request: {}", error.what())}};
    }
    return answer.dump() + "\n";
  });
  auto admin_group = resolve_group(config->control.admin_group);
  if (!admin_group) return make_error("{}: control.admin_group: {}", config->source, admin_group.error().message);
  if (auto listening = daemon->admin_->listen_unix(config->control.admin_socket, *admin_group); !listening) {
    return std::move(listening).error();
  }
  if (!config->control.metrics_listen.empty()) {
    daemon->exporter_ = std::make_unique<MetricsExporter>(*daemon);
    daemon->metrics_ = std::make_unique<StreamServer>(daemon->loop_, "\r\n\r\n", [d = daemon.get()](const std::string& head) {
      const bool metrics = head.rfind("GET /metrics ", 0) == 0 || head.rfind("GET / ", 0) == 0;
      const bool state = head.rfind("GET /state ", 0) == 0;  // for the peers' eclbctl cluster
      const std::string body = metrics ? d->exporter_->render() : state ? host_state(*d).dump() + "\n" : "not found\n";
      return fmt::format("HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n"
                         "Connection: close\r\n\r\n{}",
                         metrics || state ? "200 OK" : "404 Not Found",
                         state ? "application/json" : "text/plain; version=0.0.4", body.size(), body);
    });
    auto endpoint = Endpoint::parse(config->control.metrics_listen);
    if (!endpoint) return std::move(endpoint).error();
    if (auto listening = daemon->metrics_->listen_tcp(*endpoint); !listening) return std::move(listening).error();
  }
  if (options.serve_l7) {
    auto proxy = L7Proxy::start(config->l7.threads);
    if (!proxy) return std::move(proxy).error();
    daemon->l7_ = std::move(*proxy);
    log::info("l7", "proxy threads={}", daemon->l7_->threads());
    if (auto configured = daemon->l7_->configure(*config); !configured) return std::move(configured).error();
    for (const std::string& listener : daemon->l7_->describe()) log::info("l7", "listening {}", listener);
    // Connections the proxy could not open are passive health reports.
    if (auto watching = daemon->loop_.watch(daemon->l7_->failure_fd(), EPOLLIN,
                                            [d = daemon.get()](uint32_t) { d->on_connect_failures(); });
        !watching) {
      return std::move(watching).error();
    }
  }
  daemon->announcer_ = std::make_unique<Announcer>(config->announce);
  daemon->peers_ = std::make_unique<PeerPoller>(daemon->loop_);
  daemon->apply_config(std::move(*config));
  log::info("control", "admin socket path=\"{}\" group=\"{}\" metrics=\"{}\"", daemon->config_.control.admin_socket,
            daemon->config_.control.admin_group,
            daemon->config_.control.metrics_listen.empty() ? "off" : daemon->config_.control.metrics_listen);
  return daemon;
}

ControlDaemon::~ControlDaemon() {
  if (ramp_timer_ != 0) loop_.cancel(ramp_timer_);
  if (announce_timer_ != 0) loop_.cancel(announce_timer_);
  if (hold_timer_ != 0) loop_.cancel(hold_timer_);
  if (watchdog_timer_ != 0) loop_.cancel(watchdog_timer_);
  if (l7_) loop_.unwatch(l7_->failure_fd());
}

void ControlDaemon::apply_config(Config config) {
  config_ = std::move(config);
  health_.configure(config_.pools);
  announcer_->configure(config_.announce);
  peers_->configure(announcer_->enabled() && config_.announce.peer_check ? config_.cluster : ClusterConfig{});
  overrides_.retain([&](const OperatorOverrides::Key& key) {
    const PoolConfig* pool = config_.find_pool(std::get<0>(key));
    if (pool == nullptr) return false;
    for (const BackendConfig& backend : pool->backends) {
      if (backend.endpoint == std::get<1>(key)) return true;
    }
    return false;
  });
}

MemberState ControlDaemon::member_state(const PoolConfig& pool, const BackendConfig& backend) const {
  const OperatorOverrides::Key key{pool.name, backend.endpoint};
  MemberState state;
  state.weight = overrides_.weight(key, backend.weight, loop_.now());
  const bool held = held_down_.contains({pool.name, backend.endpoint});  // failed, published after the hold
  if (health_.state(pool.name, backend.endpoint) == Health::kDown && !held) state.state = abi::BackendState::kDown;
  else if (overrides_.drained(key)) state.state = abi::BackendState::kDrained;
  return state;
}

Result<std::optional<PublishReport>> ControlDaemon::publish(bool force) {
  const std::string reasons = std::exchange(pending_reasons_, {});
  publish_pending_ = false;
  auto content = plan_tables(config_, [this](const PoolConfig& pool, const BackendConfig& backend) {
    return member_state(pool, backend);
  });
  if (!content) return std::move(content).error();
  if (!force && published_ && same_content(*published_, *content)) return std::optional<PublishReport>();
  const auto started = std::chrono::steady_clock::now();
  auto report = writer_->publish(*content);
  if (!report) return std::move(report).error();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ++publications_.count;
  publications_.seconds_sum += seconds;
  publications_.last_seconds = seconds;
  size_t members = 0, up = 0;
  for (const VipContent& vip : content->vips) {
    members += vip.members.size();
    for (const MemberContent& member : vip.members) up += member.state == abi::BackendState::kUp;
  }
  log::info("publish", "generation={} vips={} members={} up={} changes=\"{}\"{} waited_us={} readers_evicted={}",
            report->generation, content->vips.size(), members, up,
            describe_changes(published_ ? &*published_ : nullptr, *content),
            reasons.empty() ? "" : fmt::format(" reason=\"{}\"", reasons), report->waited.count(),
            report->readers_evicted);
  for (const VipContent& vip : content->vips) {
    bool any = false;
    for (const MemberContent& member : vip.members) any = any || member.state == abi::BackendState::kUp;
    if (!any) log::warn("publish", "vip=\"{}\" has no backend up: its new flows are dropped (no_backend)", vip.name);
  }
  published_ = std::move(*content);
  published_at_ = loop_.now();
  if (l7_) l7_->set_tables(std::make_shared<const TableContent>(*published_));
  return std::optional<PublishReport>(*report);
}

Result<std::optional<PublishReport>> ControlDaemon::publish_now(const std::string& why) {
  pending_reasons_ = why;
  return publish();
}

void ControlDaemon::request_publish(const std::string& why) {
  pending_reasons_ += (pending_reasons_.empty() ? "" : "; ") + why;
  if (publish_pending_) return;
  publish_pending_ = true;
  // Coalesce: every change of this loop round goes into one publication.
  loop_.after(std::chrono::milliseconds(0), [this] {
    if (!publish_pending_) return;
    auto published = publish();
    if (!published) log::error("publish", "{} (the previous tables stay)", published.error().message);
  });
}

void ControlDaemon::on_connect_failures() {
  for (const L7Proxy::ConnectFailure& failure : l7_->take_connect_failures()) {
    for (const VipConfig& vip : config_.vips) {
      if (vip.name == failure.vip) health_.passive_failure(vip.pool, failure.gateway);
    }
  }
}

void ControlDaemon::on_health_change(const BackendHealth& backend, Health from) {
  log::info("health", "pool=\"{}\" backend=\"{}\" address={} {}->{} check={} last=\"{}\" latency_ms={:.1f}",
            backend.pool, backend.backend.name, backend.backend.endpoint.to_string(), to_string(from),
            to_string(backend.state), backend.passive ? "passive" : to_string(backend.check.kind), backend.last.detail,
            backend.last.latency.count() / 1000.0);
  const std::tuple<std::string, Endpoint> key{backend.pool, backend.backend.endpoint};
  if (backend.state == Health::kUp && held_down_.erase(key) != 0) return;  // back within the hold: nothing to publish
  if (backend.state == Health::kDown && hold_failure(backend)) {
    held_down_.insert(key);
    if (hold_timer_ == 0) {
      // Failures of one cut-off host arrive within one check interval (+10% jitter).
      const auto hold = std::chrono::milliseconds(backend.check.interval_ms * 11 / 10 + 50);
      hold_timer_ = loop_.after(hold, [this] { release_held_failures(); });
    }
    return;
  }
  request_publish(fmt::format("{} {}", backend.backend.name, to_string(backend.state)));
}

bool ControlDaemon::hold_failure(const BackendHealth& backend) const {
  if (!announcer_->enabled()) return false;
  for (const AddressState& state : announcer_->state()) {
    if (!state.announced) continue;
    for (const VipConfig& vip : config_.vips) {
      if (vip.pool == backend.pool && vip.endpoint.address == state.verdict.address) return true;
    }
  }
  return false;
}

void ControlDaemon::release_held_failures() {
  hold_timer_ = 0;
  std::string names;
  for (const auto& [pool, endpoint] : held_down_) names += (names.empty() ? "" : " ") + endpoint.to_string();
  held_down_.clear();
  // The announcement first, with the failures counted: a host left with too few
  // backends withdraws, and publishes its new table only once the router had time to
  // route around it (its peers' tables still send those flows where they went).
  std::set<IpAddress> before;
  for (const AddressState& state : announcer_->state()) {
    if (state.announced) before.insert(state.verdict.address);
  }
  evaluate_announcements();
  bool withdrew = false;
  for (const AddressState& state : announcer_->state()) withdrew |= before.contains(state.verdict.address) && !state.announced;
  const std::string why = fmt::format("down: {}", names);
  if (!withdrew) return request_publish(why);
  log::info("publish", "withdrawn first; publishing {} in {} ms, once the router has moved", why, kRouterMoveMs);
  loop_.after(std::chrono::milliseconds(kRouterMoveMs), [this, why] { request_publish(why); });
}

DataplaneView ControlDaemon::dataplane_view() {
  // The dataplane's own word that it forwards: its heartbeat and adopted generation (a
  // stats file alone is no proof: it outlives the process).
  if (dataplane_stats_ && !dataplane_stats_->writer_alive()) dataplane_stats_.reset();
  if (!dataplane_stats_) {
    if (auto attached = StatsReader::attach(config_.dataplane.stats_path); attached) {
      dataplane_stats_.emplace(std::move(*attached));
    }
  }
  DataplaneView view;
  if (dataplane_stats_) {
    view.present = true;
    view.heartbeat_age_ms = dataplane_stats_->heartbeat_age_ms();
    view.adopted_generation = dataplane_stats_->adopted_generation();
  }
  return view;
}

AnnounceInputs ControlDaemon::announce_inputs() {
  AnnounceInputs inputs;
  inputs.dataplane = dataplane_view();
  inputs.published_generation = writer_->generation();
  inputs.since_publish_ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(loop_.now() - published_at_).count());
  // Answers older than a few polls are a peer that stopped answering: no word of it counts.
  const std::vector<PeerView> peers = peers_->fresh(std::chrono::milliseconds(1500));
  diverged_.clear();
  for (const VipConfig& vip : config_.vips) {
    VipServing serving;
    serving.name = vip.name;
    serving.address = vip.endpoint.address;
    serving.l7 = vip.mode == abi::ForwardMode::kL7Proxy;
    serving.listener_up = serving.l7 && l7_ && l7_->listening(vip.name);
    if (const PoolConfig* pool = config_.find_pool(vip.pool); pool != nullptr) {
      serving.backends = static_cast<uint32_t>(pool->backends.size());
      for (const BackendConfig& backend : pool->backends) {
        const MemberState state = member_state(*pool, backend);
        serving.up += state.state == abi::BackendState::kUp && state.weight > 0;
      }
      serving.unsettled = health_.unsettled(pool->name);
      if (!serving.l7 && !peers.empty()) {
        std::vector<Endpoint> down_here;  // failures already published: a held one may be a dying backend
        for (const BackendConfig& backend : pool->backends) {
          if (member_state(*pool, backend).state == abi::BackendState::kDown) down_here.push_back(backend.endpoint);
        }
        const auto reached = reached_by_peers(vip.name, down_here, peers);
        serving.reached_by_peers = describe(reached);
        if (!reached.empty()) diverged_.insert(vip.name);
      }
    }
    inputs.vips.push_back(std::move(serving));
  }
  return inputs;
}

void ControlDaemon::evaluate_announcements() {
  if (announcer_->enabled()) announcer_->evaluate(announce_inputs());
}

Result<std::optional<PublishReport>> ControlDaemon::reload() {
  auto config = load_daemon_config(options_);
  if (!config) {
    ++publications_.reloads_failed;
    return std::move(config).context("reload rejected, keeping the running config");
  }
  if (config->tables.segment != config_.tables.segment || config->tables.capacity != config_.tables.capacity) {
    ++publications_.reloads_failed;
    return make_error("reload rejected, keeping the running config: the tables section changed (needs a restart)");
  }
  // Listeners and certificates first: a bad certificate rejects the reload untouched.
  if (l7_) {
    if (auto configured = l7_->configure(*config); !configured) {
      ++publications_.reloads_failed;
      return std::move(configured).context("reload rejected, keeping the running config");
    }
    if (config->l7.threads != config_.l7.threads) {
      log::warn("l7", "l7.threads changed to {}: the proxy keeps its {} threads until a restart", config->l7.threads,
                l7_->threads());
    }
  }
  Config previous = std::move(config_);
  apply_config(std::move(*config));
  auto report = publish();
  if (!report) {
    ++publications_.reloads_failed;
    if (l7_) (void)l7_->configure(previous);
    apply_config(std::move(previous));
    return std::move(report).context("reload rejected, keeping the running config");
  }
  log::info("control", "reloaded config=\"{}\"", config_.source);
  return report;
}

std::string ControlDaemon::service_status() const {
  return fmt::format("generation {}, {} VIPs, {} pools", writer_ ? writer_->generation() : 0, config_.vips.size(),
                     config_.pools.size());
}

int ControlDaemon::run() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  const int fd = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd < 0) {
    log::error("control", "signalfd failed: {}", std::strerror(errno));
    return 1;
  }
  (void)loop_.watch(fd, EPOLLIN, [this, fd](uint32_t) {
    signalfd_siginfo info{};
    while (read(fd, &info, sizeof info) == sizeof info) {
      if (info.ssi_signo == SIGHUP) {
        log::info("control", "reload requested by SIGHUP");
        service::notify_reloading();
        auto report = reload();
        if (!report) log::error("control", "{}", report.error().message);
        service::notify_ready(service_status());
        continue;
      }
      log::info("control", "stopping on signal {}", strsignal(static_cast<int>(info.ssi_signo)));
      service::notify_stopping();
      loop_.stop();
    }
  });
  // While a weight ramps, re-plan every second (publications happen only when an
  // integer weight actually moved).
  std::function<void()> tick = [this, &tick] {
    // One more round after a ramp ends, so its final weight is published too.
    const bool ramping = overrides_.ramping(loop_.now());
    if (ramping || ramp_was_active_) request_publish("weight ramp");
    ramp_was_active_ = ramping;
    ramp_timer_ = loop_.after(std::chrono::seconds(1), tick);
  };
  ramp_timer_ = loop_.after(std::chrono::seconds(1), tick);
  // Announcements: decided every 100 ms, so a withdrawal reaches BIRD within a second of
  // its cause (the dataplane's heartbeat going stale takes heartbeat_timeout_ms).
  std::function<void()> announce = [this, &announce] {
    evaluate_announcements();
    announce_timer_ = loop_.after(std::chrono::milliseconds(100), announce);
  };
  announce_timer_ = loop_.after(std::chrono::milliseconds(0), announce);
  // systemd's watchdog is fed from this loop, so a loop stuck anywhere gets the process
  // restarted (WatchdogSec in eclb-control.service).
  std::function<void()> keepalive;
  if (const auto period = service::watchdog_period()) {
    keepalive = [this, &keepalive, period] {
      service::notify_watchdog();
      watchdog_timer_ = loop_.after(std::chrono::duration_cast<std::chrono::milliseconds>(*period), keepalive);
    };
    keepalive();
  }
  // Tables published (main() did it before run()), admin socket and listeners up.
  service::notify_ready(service_status());
  loop_.run();
  loop_.unwatch(fd);
  close(fd);
  return 0;
}

}  // namespace eclb::ctl
