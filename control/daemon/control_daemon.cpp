// eclb-control: config -> health -> tables -> shared memory; admin socket; metrics.
#include "control/daemon/control_daemon.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "control/core/config_loader.h"
#include "control/core/env_config.h"
#include "control/core/table_planner.h"

namespace eclb::ctl {
namespace {

using nlohmann::json;

bool same_content(const TableContent& a, const TableContent& b) {
  if (a.vips.size() != b.vips.size() || a.flow_hash_seed != b.flow_hash_seed) return false;
  for (size_t v = 0; v < a.vips.size(); ++v) {
    const VipContent& x = a.vips[v];
    const VipContent& y = b.vips[v];
    if (x.name != y.name || x.endpoint != y.endpoint || x.protocol != y.protocol || x.mode != y.mode ||
        x.table_size != y.table_size || x.members.size() != y.members.size()) {
      return false;
    }
    for (size_t m = 0; m < x.members.size(); ++m) {
      const MemberContent& p = x.members[m];
      const MemberContent& q = y.members[m];
      if (p.name != q.name || p.endpoint != q.endpoint || p.weight != q.weight || p.state != q.state) return false;
    }
  }
  return true;
}

// "vip/member old->new" for every difference, for the one log line of a publication.
std::string describe_changes(const TableContent* before, const TableContent& after) {
  if (before == nullptr) return "initial";
  std::string out;
  const auto add = [&](const std::string& text) { out += (out.empty() ? "" : ", ") + text; };
  for (const VipContent& vip : after.vips) {
    const VipContent* old = nullptr;
    for (const VipContent& candidate : before->vips) {
      if (candidate.name == vip.name) old = &candidate;
    }
    if (old == nullptr) {
      add(fmt::format("{} added", vip.name));
      continue;
    }
    for (const MemberContent& member : vip.members) {
      const MemberContent* was = nullptr;
      for (const MemberContent& candidate : old->members) {
        if (candidate.endpoint == member.endpoint) was = &candidate;
      }
      if (was == nullptr) {
        add(fmt::format("{}/{} added", vip.name, member.name));
        continue;
      }
      if (was->state != member.state) {
        add(fmt::format("{}/{} {}->{}", vip.name, member.name, to_string(was->state), to_string(member.state)));
      }
      if (was->weight != member.weight) {
        add(fmt::format("{}/{} weight {}->{}", vip.name, member.name, was->weight, member.weight));
      }
    }
    for (const MemberContent& was : old->members) {
      bool kept = false;
      for (const MemberContent& member : vip.members) kept = kept || member.endpoint == was.endpoint;
      if (!kept) add(fmt::format("{}/{} removed", vip.name, was.name));
    }
  }
  for (const VipContent& old : before->vips) {
    bool kept = false;
    for (const VipContent& vip : after.vips) kept = kept || vip.name == old.name;
    if (!kept) add(fmt::format("{} removed", old.name));
  }
  return out.empty() ? "none" : out;
}

std::string escape_label(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '\\' || c == '"') out += '\\';
    out += c == '\n' ? 'n' : c;
  }
  return out;
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
  daemon->admin_ = std::make_unique<StreamServer>(daemon->loop_, "\n", [d = daemon.get()](const std::string& line) {
    json answer;
    try {
      answer = d->handle_admin(json::parse(line));
    } catch (const json::exception& error) {
      answer = {{"ok", false}, {"error", fmt::format("bad request: {}", error.what())}};
    }
    return answer.dump() + "\n";
  });
  if (auto listening = daemon->admin_->listen_unix(config->control.admin_socket); !listening) {
    return std::move(listening).error();
  }
  if (!config->control.metrics_listen.empty()) {
    daemon->metrics_ = std::make_unique<StreamServer>(daemon->loop_, "\r\n\r\n", [d = daemon.get()](const std::string& head) {
      const bool metrics = head.rfind("GET /metrics ", 0) == 0 || head.rfind("GET / ", 0) == 0;
      const std::string body = metrics ? d->render_metrics() : "not found\n";
      return fmt::format("HTTP/1.1 {}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n"
                         "Connection: close\r\n\r\n{}",
                         metrics ? "200 OK" : "404 Not Found", body.size(), body);
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
  }
  daemon->apply_config(std::move(*config));
  log::info("control", "admin socket path=\"{}\" metrics=\"{}\"", daemon->config_.control.admin_socket,
            daemon->config_.control.metrics_listen.empty() ? "off" : daemon->config_.control.metrics_listen);
  return daemon;
}

ControlDaemon::~ControlDaemon() {
  if (ramp_timer_ != 0) loop_.cancel(ramp_timer_);
}

void ControlDaemon::apply_config(Config config) {
  config_ = std::move(config);
  health_.configure(config_.pools);
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
  if (health_.state(pool.name, backend.endpoint) == Health::kDown) state.state = abi::BackendState::kDown;
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
  ++publishes_;
  publish_seconds_sum_ += seconds;
  last_publish_seconds_ = seconds;
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
  if (l7_) l7_->set_tables(std::make_shared<const TableContent>(*published_));
  return std::optional<PublishReport>(*report);
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

void ControlDaemon::on_health_change(const BackendHealth& backend, Health from) {
  log::info("health", "pool=\"{}\" backend=\"{}\" address={} {}->{} check={} last=\"{}\" latency_ms={:.1f}",
            backend.pool, backend.backend.name, backend.backend.endpoint.to_string(), to_string(from),
            to_string(backend.state), to_string(backend.check.kind), backend.last.detail,
            backend.last.latency.count() / 1000.0);
  request_publish(fmt::format("{} {}", backend.backend.name, to_string(backend.state)));
}

Result<std::optional<PublishReport>> ControlDaemon::reload() {
  auto config = load_daemon_config(options_);
  if (!config) {
    ++reloads_failed_;
    return std::move(config).context("reload rejected, keeping the running config");
  }
  if (config->tables.segment != config_.tables.segment || config->tables.capacity != config_.tables.capacity) {
    ++reloads_failed_;
    return make_error("reload rejected, keeping the running config: the tables section changed (needs a restart)");
  }
  // Listeners and certificates first: a bad certificate rejects the reload untouched.
  if (l7_) {
    if (auto configured = l7_->configure(*config); !configured) {
      ++reloads_failed_;
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
    ++reloads_failed_;
    if (l7_) (void)l7_->configure(previous);
    apply_config(std::move(previous));
    return std::move(report).context("reload rejected, keeping the running config");
  }
  log::info("control", "reloaded config=\"{}\"", config_.source);
  return report;
}

Result<std::pair<std::string, Endpoint>> ControlDaemon::find_backend(const std::string& selector,
                                                                     const std::string& pool_name) const {
  std::vector<std::pair<std::string, Endpoint>> found;
  const auto endpoint = Endpoint::parse(selector);
  for (const PoolConfig& pool : config_.pools) {
    if (!pool_name.empty() && pool.name != pool_name) continue;
    for (const BackendConfig& backend : pool.backends) {
      if (backend.name == selector || (endpoint && backend.endpoint == *endpoint)) found.emplace_back(pool.name, backend.endpoint);
    }
  }
  if (found.empty()) return make_error("no backend \"{}\"{}", selector, pool_name.empty() ? "" : " in pool " + pool_name);
  if (found.size() > 1) return make_error("backend \"{}\" is in several pools: name one with --pool", selector);
  return found.front();
}

json ControlDaemon::handle_admin(const json& request) {
  const std::string command = request.value("command", "");
  const auto fail = [](const std::string& message) { return json{{"ok", false}, {"error", message}}; };
  const auto published = [&](const Result<std::optional<PublishReport>>& report) {
    if (!report) return fail(report.error().message);
    return json{{"ok", true}, {"generation", writer_->generation()}, {"published", report->has_value()}};
  };
  if (command == "reload") return published(reload());
  if (command == "status") {
    return {{"ok", true},        {"generation", writer_->generation()}, {"config", config_.source},
            {"publishes", publishes_}, {"vips", config_.vips.size()},        {"health_checks", health_.checks_run()},
            {"l7", l7_status()}};
  }
  if (command == "health") {
    json backends = json::array();
    for (const BackendHealth& backend : health_.snapshot()) {
      const OperatorOverrides::Key key{backend.pool, backend.backend.endpoint};
      backends.push_back({{"pool", backend.pool},
                          {"name", backend.backend.name},
                          {"address", backend.backend.endpoint.to_string()},
                          {"health", to_string(backend.state)},
                          {"drained", overrides_.drained(key)},
                          {"weight", overrides_.weight(key, backend.backend.weight, loop_.now())},
                          {"check", to_string(backend.check.kind)},
                          {"checks", backend.checks},
                          {"last_ok", backend.checked ? json(backend.last.ok) : json(nullptr)},
                          {"last_detail", backend.checked ? backend.last.detail : "not checked yet"},
                          {"last_latency_ms", backend.last.latency.count() / 1000.0}});
    }
    return {{"ok", true}, {"backends", backends}};
  }
  if (command != "drain" && command != "undrain" && command != "weight") return fail(fmt::format("unknown command \"{}\"", command));
  auto backend = find_backend(request.value("backend", ""), request.value("pool", ""));
  if (!backend) return fail(backend.error().message);
  const OperatorOverrides::Key key{backend->first, backend->second};
  if (command == "weight") {
    if (!request.contains("weight") || !request["weight"].is_number_unsigned() || request["weight"].get<uint64_t>() > 1000000) {
      return fail("weight must be an integer 0-1000000");
    }
    uint32_t configured = 1;
    for (const BackendConfig& b : config_.find_pool(backend->first)->backends) {
      if (b.endpoint == backend->second) configured = b.weight;
    }
    const auto ramp = std::chrono::milliseconds(request.value("ramp_ms", uint64_t{0}));
    overrides_.set_weight(key, configured, request["weight"].get<uint32_t>(), ramp, loop_.now());
    log::info("control", "weight backend={} weight={} ramp_ms={}", backend->second.to_string(), request["weight"].get<uint32_t>(),
              ramp.count());
  } else {
    overrides_.drain(key, command == "drain");
    log::info("control", "{} backend={}", command, backend->second.to_string());
  }
  pending_reasons_ = command;
  return published(publish());
}

std::string ControlDaemon::render_metrics() {
  std::string out;
  const auto metric = [&](const char* name, const char* type, const char* help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  metric("eclb_table_generation", "gauge", "Generation of the published tables.");
  out += fmt::format("eclb_table_generation {}\n", writer_->generation());
  metric("eclb_publish_total", "counter", "Table publications.");
  out += fmt::format("eclb_publish_total {}\n", publishes_);
  metric("eclb_publish_duration_seconds", "summary", "Time to publish tables (including the wait for dataplane workers).");
  out += fmt::format("eclb_publish_duration_seconds_sum {:.6f}\neclb_publish_duration_seconds_count {}\n", publish_seconds_sum_,
                     publishes_);
  metric("eclb_publish_last_duration_seconds", "gauge", "Duration of the last publication.");
  out += fmt::format("eclb_publish_last_duration_seconds {:.6f}\n", last_publish_seconds_);
  metric("eclb_reload_failures_total", "counter", "Rejected reloads (the running config stayed).");
  out += fmt::format("eclb_reload_failures_total {}\n", reloads_failed_);
  metric("eclb_health_checks_total", "counter", "Health checks run.");
  out += fmt::format("eclb_health_checks_total {}\n", health_.checks_run());

  metric("eclb_backend_healthy", "gauge", "1 if the backend's health checks pass.");
  std::string last_latency;
  for (const BackendHealth& backend : health_.snapshot()) {
    const std::string labels = fmt::format("pool=\"{}\",backend=\"{}\",address=\"{}\"", escape_label(backend.pool),
                                           escape_label(backend.backend.name), backend.backend.endpoint.to_string());
    out += fmt::format("eclb_backend_healthy{{{}}} {}\n", labels, backend.state == Health::kUp ? 1 : 0);
    if (backend.checked) {
      last_latency += fmt::format("eclb_backend_check_latency_seconds{{{}}} {:.6f}\n", labels,
                                  backend.last.latency.count() / 1e6);
    }
  }
  metric("eclb_backend_check_latency_seconds", "gauge", "Duration of the last health check.");
  out += last_latency;

  // Per VIP and member, from the published tables and (if the dataplane runs) its counters.
  if (!stats_) {
    if (auto attached = StatsReader::attach(config_.dataplane.stats_path); attached) stats_.emplace(std::move(*attached));
  }
  std::optional<StatsTotals> totals;
  if (stats_) totals = stats_->read();
  auto segment = TableSegment::attach(config_.tables.segment, MappedFile::Access::kReadOnly);
  std::optional<TableSnapshot> snapshot;
  if (segment) {
    if (auto taken = segment->snapshot(); taken) snapshot = std::move(*taken);
  }
  if (snapshot) {
    metric("eclb_vip_backends_up", "gauge", "Members of the VIP that own table slots (0: new flows are dropped).");
    for (const abi::VipEntry& vip : snapshot->view.vips()) out += fmt::format("eclb_vip_backends_up{{vip=\"{}\"}} {}\n", escape_label(vip.name), vip.up_count);
    metric("eclb_backend_state", "gauge", "Published member state: 1 up, 2 down, 3 drained.");
    metric("eclb_backend_weight", "gauge", "Published member weight.");
    metric("eclb_backend_table_share", "gauge", "Share of the VIP's Maglev slots the member owns.");
    for (const abi::VipEntry& vip : snapshot->view.vips()) {
      for (const abi::BackendEntry& backend : snapshot->view.backends_of(vip)) {
        const std::string labels = fmt::format("vip=\"{}\",backend=\"{}\"", escape_label(vip.name), escape_label(backend.name));
        out += fmt::format("eclb_backend_state{{{}}} {}\neclb_backend_weight{{{}}} {}\neclb_backend_table_share{{{}}} {:.6f}\n", labels,
                           static_cast<int>(backend.state), labels, backend.weight, labels,
                           static_cast<double>(backend.slot_count) / vip.table_size);
      }
    }
    if (totals) {
      metric("eclb_vip_packets_total", "counter", "Packets forwarded to the VIP's backends.");
      metric("eclb_vip_bytes_total", "counter", "Bytes (IP) forwarded to the VIP's backends.");
      metric("eclb_vip_new_flows_total", "counter", "New flows of the VIP.");
      metric("eclb_vip_no_backend_drops_total", "counter", "New flows dropped because no member was up.");
      for (const abi::VipEntry& vip : snapshot->view.vips()) {
        if (vip.id >= totals->vips.size()) continue;
        const abi::VipStats& v = totals->vips[vip.id];
        const std::string label = fmt::format("vip=\"{}\"", escape_label(vip.name));
        out += fmt::format("eclb_vip_packets_total{{{0}}} {1}\neclb_vip_bytes_total{{{0}}} {2}\neclb_vip_new_flows_total{{{0}}} {3}\n"
                           "eclb_vip_no_backend_drops_total{{{0}}} {4}\n",
                           label, v.packets, v.bytes, v.new_flows, v.no_backend_drops);
      }
      metric("eclb_backend_packets_total", "counter", "Packets forwarded to the member.");
      metric("eclb_backend_bytes_total", "counter", "Bytes (IP) forwarded to the member.");
      metric("eclb_backend_new_flows_total", "counter", "New flows sent to the member.");
      for (const abi::VipEntry& vip : snapshot->view.vips()) {
        for (const abi::BackendEntry& backend : snapshot->view.backends_of(vip)) {
          if (backend.id >= totals->backends.size()) continue;
          const abi::BackendStats& b = totals->backends[backend.id];
          const std::string labels = fmt::format("vip=\"{}\",backend=\"{}\"", escape_label(vip.name), escape_label(backend.name));
          out += fmt::format("eclb_backend_packets_total{{{0}}} {1}\neclb_backend_bytes_total{{{0}}} {2}\n"
                             "eclb_backend_new_flows_total{{{0}}} {3}\n",
                             labels, b.packets, b.bytes, b.new_flows);
        }
      }
    }
  }
  if (l7_) render_l7_metrics(out);
  if (totals) {
    metric("eclb_dataplane_up", "gauge", "1 if eclb-dataplane refreshed its counters in the last 5 s.");
    out += fmt::format("eclb_dataplane_up {}\n", stats_->writer_alive() && stats_->heartbeat_age_ms() < 5000 ? 1 : 0);
    metric("eclb_dataplane_rx_packets_total", "counter", "Packets received by all workers.");
    out += fmt::format("eclb_dataplane_rx_packets_total {}\n", totals->lcore.rx_packets);
    metric("eclb_dataplane_tx_packets_total", "counter", "Packets sent by all workers.");
    out += fmt::format("eclb_dataplane_tx_packets_total {}\n", totals->lcore.tx_packets);
    metric("eclb_dataplane_exception_packets_total", "counter", "Packets handed to the kernel through exception ports.");
    out += fmt::format("eclb_dataplane_exception_packets_total {}\n", totals->lcore.exception_packets);
    metric("eclb_dataplane_flows", "gauge", "Flow table entries in use.");
    out += fmt::format("eclb_dataplane_flows {}\n", totals->lcore.flow_entries);
    metric("eclb_dataplane_drops_total", "counter", "Packets dropped, by reason.");
    for (uint32_t r = 0; r < static_cast<uint32_t>(abi::DropReason::kCount); ++r) {
      out += fmt::format("eclb_dataplane_drops_total{{reason=\"{}\"}} {}\n",
                         abi::drop_reason_name(static_cast<abi::DropReason>(r)), totals->lcore.drops[r]);
    }
    const abi::SlowPathStats& slow = totals->slow_path;
    const std::pair<const char*, uint64_t> neighbour_counters[] = {
        {"arp_replies", slow.arp_replies}, {"na_sent", slow.na_sent}, {"requests_sent", slow.requests_sent},
        {"learned", slow.learned}, {"ignored", slow.ignored}, {"to_kernel", slow.to_kernel},
        {"dropped", slow.dropped}};
    metric("eclb_dataplane_neighbour_messages_total", "counter",
           "ARP / ND work of the dataplane's control lcore, by what was done.");
    for (const auto& [what, value] : neighbour_counters) {
      out += fmt::format("eclb_dataplane_neighbour_messages_total{{what=\"{}\"}} {}\n", what, value);
    }
    // The ports' own counters: what they lost before any worker saw it shows only here.
    const std::pair<const char*, uint64_t PortTotals::*> port_counters[] = {
        {"rx_packets", &PortTotals::ipackets}, {"tx_packets", &PortTotals::opackets},
        {"rx_bytes", &PortTotals::ibytes}, {"tx_bytes", &PortTotals::obytes},
        {"rx_missed", &PortTotals::imissed}, {"rx_errors", &PortTotals::ierrors},
        {"tx_errors", &PortTotals::oerrors}, {"rx_nombuf", &PortTotals::rx_nombuf}};
    for (const auto& [name, field] : port_counters) {
      const std::string full = fmt::format("eclb_port_{}_total", name);
      metric(full.c_str(), "counter", "Counted by the DPDK port itself (rte_eth_stats).");
      for (const PortTotals& port : totals->ports) {
        out += fmt::format("{}{{port=\"{}\",driver=\"{}\"}} {}\n", full, port.port_id, port.driver, port.*field);
      }
    }
    metric("eclb_port_xstat", "untyped", "The DPDK port's extended statistics, by the PMD's name.");
    for (const PortTotals& port : totals->ports) {
      for (const auto& [name, value] : port.xstats) {
        out += fmt::format("eclb_port_xstat{{port=\"{}\",name=\"{}\"}} {}\n", port.port_id, name, value);
      }
    }
  } else {
    metric("eclb_dataplane_up", "gauge", "1 if eclb-dataplane refreshed its counters in the last 5 s.");
    out += "eclb_dataplane_up 0\n";
  }
  return out;
}

json ControlDaemon::l7_status() const {
  json out = json::object();
  if (!l7_) return out;
  for (const auto& [vip, c] : l7_->counters()) {
    json counters = {{"connections", c->active.load(std::memory_order_relaxed)}};
#define ECLB_L7_JSON(name, help) counters[#name] = c->name.load(std::memory_order_relaxed);
    ECLB_L7_COUNTERS(ECLB_L7_JSON)
#undef ECLB_L7_JSON
    out[vip] = counters;
  }
  return out;
}

void ControlDaemon::render_l7_metrics(std::string& out) const {
  const auto counters = l7_->counters();
  if (counters.empty()) return;
  out += "# HELP eclb_l7_connections Open client connections of the L7 proxy.\n# TYPE eclb_l7_connections gauge\n";
  for (const auto& [vip, c] : counters) {
    out += fmt::format("eclb_l7_connections{{vip=\"{}\"}} {}\n", escape_label(vip), c->active.load(std::memory_order_relaxed));
  }
#define ECLB_L7_METRIC(name, help)                                                                              \
  out += "# HELP eclb_l7_" #name "_total " help ".\n# TYPE eclb_l7_" #name "_total counter\n";                  \
  for (const auto& [vip, c] : counters) {                                                                       \
    out += fmt::format("eclb_l7_" #name "_total{{vip=\"{}\"}} {}\n", escape_label(vip), c->name.load(std::memory_order_relaxed)); \
  }
  ECLB_L7_COUNTERS(ECLB_L7_METRIC)
#undef ECLB_L7_METRIC
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
        auto report = reload();
        if (!report) log::error("control", "{}", report.error().message);
        continue;
      }
      log::info("control", "stopping on signal {}", strsignal(static_cast<int>(info.ssi_signo)));
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
  loop_.run();
  loop_.unwatch(fd);
  close(fd);
  return 0;
}

}  // namespace eclb::ctl
