// ControlDaemon: eclb-control's core. Loads the config (YAML, or the nginx image's
// environment.env over an optional base YAML), runs health checks, and publishes one
// Maglev table per VIP from the backends that are up and not drained — again whenever
// health, drains, weights (and their ramps) or the config change, and only then, logging
// each publication once with what changed; reloads on SIGHUP. The admin socket
// (admin_handler.h) and Prometheus metrics (metrics_exporter.h) are adapters over it.
// Everything runs on one EventLoop thread, except the L7 proxy of mode-l7 VIPs
// (control/l7), which has its own and gets each publication's tables handed over.
// Killing it leaves the dataplane forwarding with the last tables; a restarted one
// adopts the table region with no gap.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "common/stats_reader.h"
#include "config/config.h"
#include "control/announce/announcer.h"
#include "control/announce/peer_poller.h"
#include "control/core/table_content.h"
#include "control/core/table_planner.h"
#include "control/daemon/admin_handler.h"
#include "control/daemon/metrics_exporter.h"
#include "control/daemon/operator_overrides.h"
#include "control/daemon/stream_server.h"
#include "control/event/event_loop.h"
#include "control/health/health_monitor.h"
#include "control/l7/l7_proxy.h"
#include "control/publish/table_writer.h"

namespace eclb::ctl {

struct DaemonOptions {
  std::string config_path;       // YAML; with env_file: the base config (optional)
  std::string env_file;          // the nginx image's environment.env
  std::string segment_override;  // replaces tables.segment when set
  std::string admin_override;    // replaces control.admin_socket when set
  std::string metrics_override;  // replaces control.metrics when set ("off" disables)
  bool serve_l7 = true;          // run the L7 proxy of mode-l7 VIPs (not for --once)
};

// The config described by `options` (for --check, start and reload).
Result<Config> load_daemon_config(const DaemonOptions& options);

// What the publications so far cost and how reloads went (metrics, status).
struct Publications {
  uint64_t count = 0;
  double seconds_sum = 0;
  double last_seconds = 0;
  uint64_t reloads_failed = 0;
};

class ControlDaemon {
 public:
  static Result<std::unique_ptr<ControlDaemon>> start(const DaemonOptions& options);
  ~ControlDaemon();

  // Publishes if anything changed since the last publication (or `force`).
  Result<std::optional<PublishReport>> publish(bool force = false);
  // Re-reads the config; on error the running config stays and the error is returned.
  Result<std::optional<PublishReport>> reload();
  // Runs the loop (health checks, admin, metrics, signals) until SIGINT or SIGTERM.
  // Signals must be blocked in every thread first (main.cpp). Under systemd it reports
  // readiness when entered (after the first publication) and feeds the watchdog.
  int run();

  // Publishes now (an operator's change), `why` naming it in the publication's log line.
  Result<std::optional<PublishReport>> publish_now(const std::string& why);

  // For the adapters (admin handler, metrics exporter), on the loop thread.
  const Config& config() const noexcept { return config_; }
  uint64_t generation() const noexcept { return writer_->generation(); }
  const Publications& publications() const noexcept { return publications_; }
  const HealthMonitor& health() const noexcept { return health_; }
  OperatorOverrides& overrides() noexcept { return overrides_; }
  EventLoop::Clock::time_point now() const noexcept { return loop_.now(); }
  const L7Proxy* l7() const noexcept { return l7_.get(); }
  Announcer& announcer() noexcept { return *announcer_; }
  const std::optional<TableContent>& published() const noexcept { return published_; }
  // VIPs with backends down here that the peers reach (peer_views.h), as of the last
  // evaluation; and the peers' answers.
  const std::set<std::string>& diverged() const noexcept { return diverged_; }
  std::vector<PeerStatus> peer_status() const { return peers_->status(); }
  // The local dataplane as its stats region shows it (heartbeat, adopted generation).
  DataplaneView dataplane_view();
  // Decides the announcements now (the loop does every 100 ms; eclbctl's changes at once).
  void evaluate_announcements();

 private:
  explicit ControlDaemon(DaemonOptions options)
      : options_(std::move(options)),
        health_(loop_, [this](const BackendHealth& backend, Health from) { on_health_change(backend, from); }) {}
  void on_health_change(const BackendHealth& backend, Health from);
  std::string service_status() const;  // systemd's STATUS= line
  // A backend that fails while this host announces its VIP is published only after a
  // short hold (held_down_): if most of the pool fails within it, this host is more
  // likely cut off than they all dead, and a host that changes its table while its
  // peers keep theirs breaks the DSR connections routed through it. So the announcement
  // is decided first (withdrawn when too few backends are left), and the table is
  // published after the router has had time to route around this host.
  bool hold_failure(const BackendHealth& backend) const;
  void release_held_failures();
  void on_connect_failures();
  MemberState member_state(const PoolConfig& pool, const BackendConfig& backend) const;
  void request_publish(const std::string& why);
  void apply_config(Config config);
  AnnounceInputs announce_inputs();

  DaemonOptions options_;
  Config config_;
  EventLoop loop_;
  HealthMonitor health_;
  OperatorOverrides overrides_;
  std::optional<TableWriter> writer_;
  std::optional<TableContent> published_;
  std::unique_ptr<AdminHandler> admin_handler_;
  std::unique_ptr<MetricsExporter> exporter_;
  std::unique_ptr<StreamServer> admin_;
  std::unique_ptr<StreamServer> metrics_;
  bool publish_pending_ = false;
  std::string pending_reasons_;
  EventLoop::TimerId ramp_timer_ = 0;
  bool ramp_was_active_ = false;
  Publications publications_;
  EventLoop::Clock::time_point published_at_{};
  std::unique_ptr<Announcer> announcer_;
  std::unique_ptr<PeerPoller> peers_;  // cluster.peers' /state, when announce.peer_check
  std::set<std::string> diverged_;
  std::optional<StatsReader> dataplane_stats_;  // for the dataplane's heartbeat
  EventLoop::TimerId announce_timer_ = 0;
  std::set<std::tuple<std::string, Endpoint>> held_down_;  // pool, backend: failed, not yet published
  EventLoop::TimerId hold_timer_ = 0;
  EventLoop::TimerId watchdog_timer_ = 0;  // systemd keep-alives (WatchdogSec), when asked for
  std::unique_ptr<L7Proxy> l7_;  // last: its thread stops first
};

}  // namespace eclb::ctl
