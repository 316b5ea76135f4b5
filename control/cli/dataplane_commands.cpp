// Rendering of dataplane counters and flow entries.
#include "control/cli/dataplane_commands.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>

#include "common/ip_address.h"
#include "control/cli/table_commands.h"

namespace eclb::ctl::cli {
namespace {

using nlohmann::json;

std::string_view state_name(abi::FlowState state) {
  switch (state) {
    case abi::FlowState::kEmpty: return "empty";
    case abi::FlowState::kTcpSynSeen: return "syn";
    case abi::FlowState::kTcpEstablished: return "established";
    case abi::FlowState::kTcpClosing: return "closing";
    case abi::FlowState::kTcpClosed: return "closed";
    case abi::FlowState::kUdp: return "udp";
  }
  return "unknown";
}

json counters_json(const abi::LcoreStats& s) {
  json drops = json::object();
  for (uint32_t r = 0; r < static_cast<uint32_t>(abi::DropReason::kCount); ++r) {
    drops[std::string(abi::drop_reason_name(static_cast<abi::DropReason>(r)))] = s.drops[r];
  }
  return {{"rx_packets", s.rx_packets}, {"rx_bytes", s.rx_bytes}, {"tx_packets", s.tx_packets},
          {"tx_bytes", s.tx_bytes}, {"table_generation", s.table_generation}, {"flow_entries", s.flow_entries},
          {"flow_inserts", s.flow_inserts}, {"flow_evictions_established", s.flow_evictions_established},
          {"flow_evictions_other", s.flow_evictions_other}, {"flow_guard_skips", s.flow_guard_skips},
          {"syn_unrecorded", s.syn_unrecorded},
          {"flow_repicks", s.flow_repicks}, {"slow_path_packets", s.slow_path_packets},
          {"icmp_echo_replies", s.icmp_echo_replies}, {"icmp_too_big_sent", s.icmp_too_big_sent},
          {"icmp_errors_forwarded", s.icmp_errors_forwarded}, {"fragments", s.fragments},
          {"nat_sessions", s.nat_sessions}, {"nat_replies", s.nat_replies},
          {"exception_packets", s.exception_packets}, {"drops", drops}};
}

std::string endpoint_text(abi::AddressFamily family, const uint8_t (&address)[16], uint16_t port_be) {
  return Endpoint{IpAddress::from_bytes(family, address), ntohs(port_be)}.to_string();
}

}  // namespace

std::string render_stats(const StatsReader& stats, const TableSnapshot* snapshot, bool json_output) {
  const StatsTotals totals = stats.read();
  const abi::StatsHeader& header = stats.header();
  const bool alive = stats.writer_alive();
  if (json_output) {
    json out = {{"dataplane", {{"pid", header.dataplane_pid}, {"alive", alive},
                               {"heartbeat_age_ms", stats.heartbeat_age_ms()}, {"workers", header.lcore_count}}},
                {"totals", counters_json(totals.lcore)},
                {"workers", json::array()},
                {"vips", json::array()}};
    for (const auto& one : totals.per_lcore) out["workers"].push_back(counters_json(one));
    const abi::SlowPathStats& slow = totals.slow_path;
    out["slow_path"] = {{"arp_replies", slow.arp_replies}, {"na_sent", slow.na_sent},
                        {"requests_sent", slow.requests_sent}, {"learned", slow.learned}, {"ignored", slow.ignored},
                        {"to_kernel", slow.to_kernel}, {"dropped", slow.dropped}};
    out["ports"] = json::array();
    for (const PortTotals& port : totals.ports) {
      json xstats = json::object();
      for (const auto& [name, value] : port.xstats) xstats[name] = value;
      out["ports"].push_back({{"port", port.port_id}, {"driver", port.driver}, {"rx_packets", port.ipackets},
                              {"tx_packets", port.opackets}, {"rx_bytes", port.ibytes}, {"tx_bytes", port.obytes},
                              {"rx_missed", port.imissed}, {"rx_errors", port.ierrors}, {"tx_errors", port.oerrors},
                              {"rx_nombuf", port.rx_nombuf}, {"xstats", xstats}});
    }
    if (snapshot != nullptr) {
      for (const abi::VipEntry& vip : snapshot->view.vips()) {
        const abi::VipStats v = vip.id < totals.vips.size() ? totals.vips[vip.id] : abi::VipStats{};
        json entry = {{"name", vip.name}, {"id", vip.id}, {"packets", v.packets}, {"bytes", v.bytes},
                      {"new_flows", v.new_flows}, {"no_backend_drops", v.no_backend_drops}, {"backends", json::array()}};
        for (const abi::BackendEntry& backend : snapshot->view.backends_of(vip)) {
          const abi::BackendStats b = backend.id < totals.backends.size() ? totals.backends[backend.id] : abi::BackendStats{};
          entry["backends"].push_back({{"name", backend.name}, {"id", backend.id}, {"packets", b.packets},
                                       {"bytes", b.bytes}, {"new_flows", b.new_flows}});
        }
        out["vips"].push_back(entry);
      }
    }
    return out.dump(2) + "\n";
  }
  std::string out = fmt::format("dataplane pid {} {}, heartbeat {:.1f} s ago, {} workers, table generation {}\n",
                                header.dataplane_pid, alive ? "running" : "NOT RUNNING",
                                stats.heartbeat_age_ms() / 1000.0, header.lcore_count, totals.lcore.table_generation);
  out += fmt::format("{:<8} {:>14} {:>16} {:>14} {:>16} {:>10}\n", "", "RX-PACKETS", "RX-BYTES", "TX-PACKETS",
                     "TX-BYTES", "FLOWS");
  for (size_t l = 0; l < totals.per_lcore.size(); ++l) {
    const auto& s = totals.per_lcore[l];
    out += fmt::format("worker{:<2} {:>14} {:>16} {:>14} {:>16} {:>10}\n", l, s.rx_packets, s.rx_bytes, s.tx_packets,
                       s.tx_bytes, s.flow_entries);
  }
  const auto& t = totals.lcore;
  out += fmt::format("{:<8} {:>14} {:>16} {:>14} {:>16} {:>10}\n", "total", t.rx_packets, t.rx_bytes, t.tx_packets,
                     t.tx_bytes, t.flow_entries);
  out += fmt::format("flows: inserts {} repicks {} evicted-established {} evicted-other {} guard-skips {} "
                     "syn-unrecorded {}\n",
                     t.flow_inserts, t.flow_repicks, t.flow_evictions_established, t.flow_evictions_other,
                     t.flow_guard_skips, t.syn_unrecorded);
  out += fmt::format("icmp: echo-replies {} too-big-sent {} errors-forwarded {}; slow path {}\n", t.icmp_echo_replies,
                     t.icmp_too_big_sent, t.icmp_errors_forwarded, t.slow_path_packets);
  if (t.nat_sessions != 0 || t.nat_replies != 0) {
    out += fmt::format("fullnat: sessions {} replies {}\n", t.nat_sessions, t.nat_replies);
  }
  if (t.exception_packets != 0) out += fmt::format("to the kernel (exception port): {}\n", t.exception_packets);
  const abi::SlowPathStats& slow = totals.slow_path;
  out += fmt::format("neighbours: arp-replies {} na-sent {} requests-sent {} learned {} ignored {} to-kernel {} "
                     "dropped {}\n", slow.arp_replies, slow.na_sent, slow.requests_sent, slow.learned, slow.ignored,
                     slow.to_kernel, slow.dropped);
  for (const PortTotals& port : totals.ports) {
    // What the port itself counted: frames lost before any worker saw them show here only.
    out += fmt::format("port {} ({}): rx {} tx {} rx-missed {} rx-errors {} rx-nombuf {} tx-errors {}\n", port.port_id,
                       port.driver, port.ipackets, port.opackets, port.imissed, port.ierrors, port.rx_nombuf,
                       port.oerrors);
  }
  out += "drops:";
  bool any = false;
  for (uint32_t r = 0; r < static_cast<uint32_t>(abi::DropReason::kCount); ++r) {
    if (t.drops[r] == 0) continue;
    out += fmt::format(" {}={}", abi::drop_reason_name(static_cast<abi::DropReason>(r)), t.drops[r]);
    any = true;
  }
  out += any ? "\n" : " none\n";
  if (snapshot != nullptr) {
    out += fmt::format("\n{:<24} {:>14} {:>16} {:>12} {:>12}\n", "VIP / BACKEND", "PACKETS", "BYTES", "NEW-FLOWS",
                       "NO-BACKEND");
    for (const abi::VipEntry& vip : snapshot->view.vips()) {
      const abi::VipStats v = vip.id < totals.vips.size() ? totals.vips[vip.id] : abi::VipStats{};
      out += fmt::format("{:<24} {:>14} {:>16} {:>12} {:>12}\n", vip.name, v.packets, v.bytes, v.new_flows,
                         v.no_backend_drops);
      for (const abi::BackendEntry& backend : snapshot->view.backends_of(vip)) {
        const abi::BackendStats b = backend.id < totals.backends.size() ? totals.backends[backend.id] : abi::BackendStats{};
        out += fmt::format("  {:<22} {:>14} {:>16} {:>12}\n", backend.name, b.packets, b.bytes, b.new_flows);
      }
    }
  }
  return out;
}

Result<std::string> render_flows(const FlowReader& flows, const TableSnapshot& snapshot, const std::string& selector,
                                 size_t limit, bool json_output) {
  auto vip = find_vip(snapshot, selector);
  if (!vip) return std::move(vip).error();
  const abi::VipEntry& entry = **vip;
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  std::vector<FlowRecord> records;
  std::map<std::string, uint64_t> by_backend;
  flows.for_each([&](const FlowRecord& record) {
    if (record.entry.vip_id != entry.id || record.entry.family != entry.family) return;
    const abi::BackendEntry* backend = snapshot.view.backend_with_id(record.entry.backend_id);
    const bool current = backend != nullptr && backend->incarnation == record.entry.backend_incarnation;
    ++by_backend[current ? backend->name : "(gone)"];
    records.push_back(record);
  });
  std::sort(records.begin(), records.end(),
            [](const FlowRecord& a, const FlowRecord& b) { return a.last_seen_s > b.last_seen_s; });
  const size_t shown = std::min(limit, records.size());
  auto backend_name = [&](const abi::FlowEntry& flow) -> std::string {
    const abi::BackendEntry* backend = snapshot.view.backend_with_id(flow.backend_id);
    return backend != nullptr && backend->incarnation == flow.backend_incarnation ? backend->name : "(gone)";
  };
  if (json_output) {
    json out = {{"vip", entry.name}, {"flows", records.size()}, {"by_backend", by_backend}, {"entries", json::array()}};
    for (size_t i = 0; i < shown; ++i) {
      const FlowRecord& r = records[i];
      out["entries"].push_back({{"client", endpoint_text(r.entry.family, r.entry.src, r.entry.src_port_be)},
                                {"backend", backend_name(r.entry)}, {"state", state_name(r.state)},
                                {"idle_s", now.tv_sec - static_cast<int64_t>(r.last_seen_s)}, {"worker", r.worker}});
    }
    return out.dump(2) + "\n";
  }
  std::string out = fmt::format("vip {}: {} flows", entry.name, records.size());
  for (const auto& [name, count] : by_backend) out += fmt::format(", {} {}", name, count);
  out += fmt::format("\n{:<44} {:<20} {:<12} {:>8} {:>6}\n", "CLIENT", "BACKEND", "STATE", "IDLE-S", "WORKER");
  for (size_t i = 0; i < shown; ++i) {
    const FlowRecord& r = records[i];
    out += fmt::format("{:<44} {:<20} {:<12} {:>8} {:>6}\n", endpoint_text(r.entry.family, r.entry.src, r.entry.src_port_be),
                       backend_name(r.entry), state_name(r.state), now.tv_sec - static_cast<int64_t>(r.last_seen_s),
                       r.worker);
  }
  if (shown < records.size()) out += fmt::format("({} more; --limit N shows more)\n", records.size() - shown);
  return out;
}

}  // namespace eclb::ctl::cli
