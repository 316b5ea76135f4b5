// Prometheus text of eclb-control (see metrics_exporter.h).
#include "control/daemon/metrics_exporter.h"

#include <fmt/format.h>

#include "abi/drop_reason.h"
#include "control/daemon/control_daemon.h"

namespace eclb::ctl {
namespace {

std::string escape_label(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '\\' || c == '"') out += '\\';
    out += c == '\n' ? 'n' : c;
  }
  return out;
}

}  // namespace

void MetricsExporter::refresh_mappings() {
  const Config& config = daemon_.config();
  if (segment_ && (segment_->retired() || segment_->path() != config.tables.segment)) segment_.reset();
  if (!segment_) {
    if (auto attached = TableSegment::attach(config.tables.segment, MappedFile::Access::kReadOnly); attached) {
      segment_.emplace(std::move(*attached));
    }
  }
  // Every dataplane run creates its stats region anew: a mapping whose writer is gone is
  // of a previous run; the current one (if any) is at the path.
  if (stats_ && !stats_->writer_alive()) stats_.reset();
  if (!stats_) {
    if (auto attached = StatsReader::attach(config.dataplane.stats_path); attached) stats_.emplace(std::move(*attached));
  }
}

std::string MetricsExporter::render() {
  std::string out;
  const Publications& publications = daemon_.publications();
  const auto metric = [&](const char* name, const char* type, const char* help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  metric("eclb_table_generation", "gauge", "Generation of the published tables.");
  out += fmt::format("eclb_table_generation {}\n", daemon_.generation());
  metric("eclb_publish_total", "counter", "Table publications.");
  out += fmt::format("eclb_publish_total {}\n", publications.count);
  metric("eclb_publish_duration_seconds", "summary", "Time to publish tables (including the wait for dataplane workers).");
  out += fmt::format("eclb_publish_duration_seconds_sum {:.6f}\neclb_publish_duration_seconds_count {}\n",
                     publications.seconds_sum, publications.count);
  metric("eclb_publish_last_duration_seconds", "gauge", "Duration of the last publication.");
  out += fmt::format("eclb_publish_last_duration_seconds {:.6f}\n", publications.last_seconds);
  metric("eclb_reload_failures_total", "counter", "Rejected reloads (the running config stayed).");
  out += fmt::format("eclb_reload_failures_total {}\n", publications.reloads_failed);
  metric("eclb_health_checks_total", "counter", "Health checks run.");
  out += fmt::format("eclb_health_checks_total {}\n", daemon_.health().checks_run());

  metric("eclb_backend_healthy", "gauge", "1 if the backend's health checks pass.");
  std::string last_latency;
  for (const BackendHealth& backend : daemon_.health().snapshot()) {
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
  refresh_mappings();
  std::optional<StatsTotals> totals;
  if (stats_) totals = stats_->read();
  std::optional<TableSnapshot> snapshot;
  if (segment_) {
    if (auto taken = segment_->snapshot(); taken) snapshot = std::move(*taken);
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
  if (daemon_.l7() != nullptr) render_l7(out);
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

void MetricsExporter::render_l7(std::string& out) const {
  const auto counters = daemon_.l7()->counters();
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

}  // namespace eclb::ctl
