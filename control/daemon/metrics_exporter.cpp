// Prometheus text of eclb-control (see metrics_exporter.h).
#include "control/daemon/metrics_exporter.h"

#include <fmt/format.h>

#include "abi/drop_reason.h"
#include "control/daemon/control_daemon.h"
#include "control/daemon/prometheus_text.h"

namespace eclb::ctl {

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
  PrometheusText out;
  const auto number = [](auto value) { return fmt::format("{}", value); };
  const auto seconds = [](double value) { return fmt::format("{:.6f}", value); };
  const auto one = [&](const char* name, const char* type, const char* help, const std::string& value) {
    out.family(name, type, help);
    out.sample(name, "", value);
  };
  const Publications& publications = daemon_.publications();
  one("eclb_table_generation", "gauge", "Generation of the published tables.", number(daemon_.generation()));
  one("eclb_publish_total", "counter", "Table publications.", number(publications.count));
  out.family("eclb_publish_duration_seconds", "summary",
             "Time to publish tables (including the wait for dataplane workers).");
  out.sample("eclb_publish_duration_seconds", "eclb_publish_duration_seconds_sum", "", seconds(publications.seconds_sum));
  out.sample("eclb_publish_duration_seconds", "eclb_publish_duration_seconds_count", "", number(publications.count));
  one("eclb_publish_last_duration_seconds", "gauge", "Duration of the last publication.", seconds(publications.last_seconds));
  one("eclb_reload_failures_total", "counter", "Rejected reloads (the running config stayed).",
      number(publications.reloads_failed));
  one("eclb_health_checks_total", "counter", "Health checks run.", number(daemon_.health().checks_run()));

  out.family("eclb_backend_healthy", "gauge", "1 if the backend's health checks (and passive health) pass.");
  out.family("eclb_backend_check_latency_seconds", "gauge", "Duration of the last health check.");
  out.family("eclb_backend_refused_connections_total", "counter",
             "Connections the L7 proxy could not open to the backend (passive health).");
  for (const BackendHealth& backend : daemon_.health().snapshot()) {
    const std::string labels = PrometheusText::label("pool", backend.pool) + "," +
                               PrometheusText::label("backend", backend.backend.name) + "," +
                               PrometheusText::label("address", backend.backend.endpoint.to_string());
    out.sample("eclb_backend_healthy", labels, backend.state == Health::kUp ? "1" : "0");
    if (backend.checked) out.sample("eclb_backend_check_latency_seconds", labels, seconds(backend.last.latency.count() / 1e6));
    out.sample("eclb_backend_refused_connections_total", labels, number(backend.passive_failures));
  }

  // Announcements to the routers (when BIRD is configured).
  Announcer& announcer = daemon_.announcer();
  if (announcer.enabled()) {
    out.family("eclb_address_announced", "gauge", "1 while this host announces the VIP address to its routers.");
    out.family("eclb_vip_announced", "gauge", "1 while this host announces the VIP's address to its routers.");
    out.family("eclb_vip_announceable", "gauge", "1 while the VIP may be announced (it can be served from here).");
    for (const AddressState& state : announcer.state()) {
      const std::string address = state.verdict.address.to_string();
      out.sample("eclb_address_announced", PrometheusText::label("address", address), state.announced ? "1" : "0");
      for (const VipVerdict& vip : state.verdict.vips) {
        out.sample("eclb_vip_announced", PrometheusText::label("vip", vip.name), state.announced ? "1" : "0");
        out.sample("eclb_vip_announceable", PrometheusText::label("vip", vip.name), vip.ok ? "1" : "0");
      }
    }
    one("eclb_bird_push_ok", "gauge", "1 if BIRD took the last announcement change (0: it is retried).",
        announcer.bird_error().empty() ? "1" : "0");
    out.family("eclb_bird_protocol_up", "gauge", "BIRD's BGP and BFD protocols: 1 when up (BGP: established).");
    if (auto protocols = announcer.bird().protocols(); protocols) {
      for (const BirdProtocol& protocol : *protocols) {
        if (protocol.proto != "BGP" && protocol.proto != "BFD") continue;
        out.sample("eclb_bird_protocol_up",
                   PrometheusText::label("name", protocol.name) + "," + PrometheusText::label("proto", protocol.proto),
                   protocol.state == "up" ? "1" : "0");
      }
    }
    const std::vector<PeerStatus> peers = daemon_.peer_status();
    if (!peers.empty()) {
      out.family("eclb_cluster_peer_answering", "gauge",
                 "1 while the peer answers its /state (announce.peer_check compares its view with this host's).");
      for (const PeerStatus& peer : peers) {
        out.sample("eclb_cluster_peer_answering", PrometheusText::label("peer", peer.name), peer.answering ? "1" : "0");
      }
    }
  }

  // Per VIP and member, from the published tables and (if the dataplane runs) its counters.
  refresh_mappings();
  std::optional<StatsTotals> totals;
  if (stats_) totals = stats_->read();
  std::optional<TableSnapshot> snapshot;
  if (segment_) {
    if (auto taken = segment_->snapshot(); taken) snapshot = std::move(*taken);
  }
  if (snapshot) {
    out.family("eclb_vip_backends_up", "gauge", "Members of the VIP that own table slots (0: new flows are dropped).");
    out.family("eclb_backend_state", "gauge", "Published member state: 1 up, 2 down, 3 drained.");
    out.family("eclb_backend_weight", "gauge", "Published member weight.");
    out.family("eclb_backend_table_share", "gauge", "Share of the VIP's Maglev slots the member owns.");
    if (totals) {
      out.family("eclb_vip_packets_total", "counter", "Packets forwarded to the VIP's backends.");
      out.family("eclb_vip_bytes_total", "counter", "Bytes (IP) forwarded to the VIP's backends.");
      out.family("eclb_vip_new_flows_total", "counter", "New flows of the VIP.");
      out.family("eclb_vip_no_backend_drops_total", "counter", "New flows dropped because no member was up.");
      out.family("eclb_backend_packets_total", "counter", "Packets forwarded to the member.");
      out.family("eclb_backend_bytes_total", "counter", "Bytes (IP) forwarded to the member.");
      out.family("eclb_backend_new_flows_total", "counter", "New flows sent to the member.");
    }
    for (const abi::VipEntry& vip : snapshot->view.vips()) {
      const std::string vip_label = PrometheusText::label("vip", vip.name);
      out.sample("eclb_vip_backends_up", vip_label, number(vip.up_count));
      if (totals && vip.id < totals->vips.size()) {
        const abi::VipStats& v = totals->vips[vip.id];
        out.sample("eclb_vip_packets_total", vip_label, number(v.packets));
        out.sample("eclb_vip_bytes_total", vip_label, number(v.bytes));
        out.sample("eclb_vip_new_flows_total", vip_label, number(v.new_flows));
        out.sample("eclb_vip_no_backend_drops_total", vip_label, number(v.no_backend_drops));
      }
      for (const abi::BackendEntry& backend : snapshot->view.backends_of(vip)) {
        const std::string labels = vip_label + "," + PrometheusText::label("backend", backend.name);
        out.sample("eclb_backend_state", labels, number(static_cast<int>(backend.state)));
        out.sample("eclb_backend_weight", labels, number(backend.weight));
        out.sample("eclb_backend_table_share", labels,
                   seconds(static_cast<double>(backend.slot_count) / vip.table_size));
        if (totals && backend.id < totals->backends.size()) {
          const abi::BackendStats& b = totals->backends[backend.id];
          out.sample("eclb_backend_packets_total", labels, number(b.packets));
          out.sample("eclb_backend_bytes_total", labels, number(b.bytes));
          out.sample("eclb_backend_new_flows_total", labels, number(b.new_flows));
        }
      }
    }
  }
  if (daemon_.l7() != nullptr) render_l7(out);
  out.family("eclb_dataplane_up", "gauge", "1 if eclb-dataplane refreshed its counters in the last 5 s.");
  if (!totals) {
    out.sample("eclb_dataplane_up", "", "0");
    return out.render();
  }
  out.sample("eclb_dataplane_up", "", stats_->writer_alive() && stats_->heartbeat_age_ms() < 5000 ? "1" : "0");
  one("eclb_dataplane_rx_packets_total", "counter", "Packets received by all workers.", number(totals->lcore.rx_packets));
  one("eclb_dataplane_tx_packets_total", "counter", "Packets sent by all workers.", number(totals->lcore.tx_packets));
  one("eclb_dataplane_exception_packets_total", "counter", "Packets handed to the kernel through exception ports.",
      number(totals->lcore.exception_packets));
  one("eclb_dataplane_flows", "gauge", "Flow table entries in use.", number(totals->lcore.flow_entries));
  one("eclb_dataplane_syn_unrecorded_total", "counter",
      "DSR SYNs forwarded by the Maglev table without a flow entry because SYNs came as a flood.",
      number(totals->lcore.syn_unrecorded));
  out.family("eclb_dataplane_drops_total", "counter", "Packets dropped, by reason.");
  for (uint32_t r = 0; r < static_cast<uint32_t>(abi::DropReason::kCount); ++r) {
    out.sample("eclb_dataplane_drops_total",
               PrometheusText::label("reason", abi::drop_reason_name(static_cast<abi::DropReason>(r))),
               number(totals->lcore.drops[r]));
  }
  const abi::SlowPathStats& slow = totals->slow_path;
  const std::pair<const char*, uint64_t> neighbour_counters[] = {
      {"arp_replies", slow.arp_replies}, {"na_sent", slow.na_sent}, {"requests_sent", slow.requests_sent},
      {"learned", slow.learned}, {"ignored", slow.ignored}, {"to_kernel", slow.to_kernel}, {"dropped", slow.dropped}};
  out.family("eclb_dataplane_neighbour_messages_total", "counter",
             "ARP / ND work of the dataplane's control lcore, by what was done.");
  for (const auto& [what, value] : neighbour_counters) {
    out.sample("eclb_dataplane_neighbour_messages_total", PrometheusText::label("what", what), number(value));
  }
  // The ports' own counters: what they lost before any worker saw it shows only here.
  const std::pair<const char*, uint64_t PortTotals::*> port_counters[] = {
      {"eclb_port_rx_packets_total", &PortTotals::ipackets}, {"eclb_port_tx_packets_total", &PortTotals::opackets},
      {"eclb_port_rx_bytes_total", &PortTotals::ibytes},     {"eclb_port_tx_bytes_total", &PortTotals::obytes},
      {"eclb_port_rx_missed_total", &PortTotals::imissed},   {"eclb_port_rx_errors_total", &PortTotals::ierrors},
      {"eclb_port_tx_errors_total", &PortTotals::oerrors},   {"eclb_port_rx_nombuf_total", &PortTotals::rx_nombuf}};
  out.family("eclb_port_xstat", "untyped", "The DPDK port's extended statistics, by the PMD's name.");
  for (const auto& [name, field] : port_counters) out.family(name, "counter", "Counted by the DPDK port itself (rte_eth_stats).");
  for (const PortTotals& port : totals->ports) {
    const std::string labels =
        PrometheusText::label("port", std::to_string(port.port_id)) + "," + PrometheusText::label("driver", port.driver);
    for (const auto& [name, field] : port_counters) out.sample(name, labels, number(port.*field));
    for (const auto& [name, value] : port.xstats) {
      out.sample("eclb_port_xstat",
                 PrometheusText::label("port", std::to_string(port.port_id)) + "," + PrometheusText::label("name", name),
                 number(value));
    }
  }
  return out.render();
}

void MetricsExporter::render_l7(PrometheusText& out) const {
  const auto counters = daemon_.l7()->counters();
  if (counters.empty()) return;
  out.family("eclb_l7_connections", "gauge", "Open client connections of the L7 proxy.");
#define ECLB_L7_FAMILY(name, help) out.family("eclb_l7_" #name "_total", "counter", help ".");
  ECLB_L7_COUNTERS(ECLB_L7_FAMILY)
#undef ECLB_L7_FAMILY
  for (const auto& [vip, c] : counters) {
    const std::string label = PrometheusText::label("vip", vip);
    out.sample("eclb_l7_connections", label, fmt::format("{}", c->active.load(std::memory_order_relaxed)));
#define ECLB_L7_SAMPLE(name, help) \
  out.sample("eclb_l7_" #name "_total", label, fmt::format("{}", c->name.load(std::memory_order_relaxed)));
    ECLB_L7_COUNTERS(ECLB_L7_SAMPLE)
#undef ECLB_L7_SAMPLE
  }
}

}  // namespace eclb::ctl
