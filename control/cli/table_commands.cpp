// Rendering of VIPs, members and Maglev tables for eclbctl (fmt for text, nlohmann for JSON).
#include "control/cli/table_commands.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <cmath>
#include <chrono>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/ip_address.h"
#include "abi/flow_hash.h"
#include "config/config.h"
#include "control/core/maglev_digest.h"

namespace eclb::ctl::cli {
namespace {

using nlohmann::json;

Endpoint endpoint_of(const abi::VipEntry& vip) { return {IpAddress::from_bytes(vip.family, vip.address), vip.port}; }
Endpoint endpoint_of(const abi::BackendEntry& backend) {
  return {IpAddress::from_bytes(backend.family, backend.address), backend.port};
}

std::string publish_time(uint64_t unix_ns) {
  const auto time = std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(unix_ns / 1000000));
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", time);
}

std::string header_line(const TableSnapshot& snapshot) {
  return fmt::format("generation {} published {} by pid {}\n", snapshot.generation,
                     publish_time(snapshot.publish_unix_ns), snapshot.writer_pid);
}

// Renders rows as left-aligned columns.
std::string columns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += i + 1 == row.size() ? row[i] : fmt::format("{:<{}}  ", row[i], width[i]);
    }
    out += line + "\n";
  }
  return out;
}

uint64_t up_weight_total(const TableSnapshot& snapshot, const abi::VipEntry& vip) {
  uint64_t total = 0;
  for (const abi::BackendEntry& backend : snapshot.view.backends_of(vip)) {
    if (backend.state == abi::BackendState::kUp) total += backend.weight;
  }
  return total;
}

json vip_json(const abi::VipEntry& vip) {
  const Endpoint endpoint = endpoint_of(vip);
  return {{"name", vip.name},
          {"address", endpoint.address.to_string()},
          {"port", vip.port},
          {"protocol", to_string(vip.protocol)},
          {"mode", to_string(vip.mode)},
          {"table_size", vip.table_size},
          {"backends", vip.backend_count},
          {"up", vip.up_count},
          {"id", vip.id}};
}

json backend_json(const TableSnapshot& snapshot, const abi::VipEntry& vip, uint32_t index) {
  const abi::BackendEntry& backend = snapshot.view.backends_of(vip)[index];
  const uint64_t total_weight = up_weight_total(snapshot, vip);
  const bool up = backend.state == abi::BackendState::kUp;
  return {{"index", index},
          {"name", backend.name},
          {"address", endpoint_of(backend).address.to_string()},
          {"port", backend.port},
          {"weight", backend.weight},
          {"state", to_string(backend.state)},
          {"slots", backend.slot_count},
          {"share", static_cast<double>(backend.slot_count) / vip.table_size},
          {"weight_share", up && total_weight > 0 ? static_cast<double>(backend.weight) / total_weight : 0.0},
          {"id", backend.id},
          {"incarnation", backend.incarnation}};
}

std::string percent(double fraction) { return fmt::format("{:.2f}%", 100.0 * fraction); }

std::string digest_of(const TableSnapshot& snapshot, const abi::VipEntry& vip) {
  std::vector<Endpoint> members;
  for (const abi::BackendEntry& backend : snapshot.view.backends_of(vip)) members.push_back(endpoint_of(backend));
  const auto slots = snapshot.view.slots_of(vip);
  return maglev_digest(members, slots);
}

}  // namespace

Result<SlotRange> parse_slot_range(const std::string& text) {
  const size_t colon = text.find(':');
  if (colon == std::string::npos) return make_error("invalid slot range \"{}\" (expected FIRST:LAST)", text);
  SlotRange range;
  const auto parse = [](std::string_view part, uint32_t& out) {
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), out);
    return !part.empty() && ec == std::errc() && end == part.data() + part.size();
  };
  if (!parse(std::string_view(text).substr(0, colon), range.first) ||
      !parse(std::string_view(text).substr(colon + 1), range.last) || range.first > range.last) {
    return make_error("invalid slot range \"{}\" (expected FIRST:LAST with FIRST <= LAST)", text);
  }
  return range;
}

Result<const abi::VipEntry*> find_vip(const TableSnapshot& snapshot, const std::string& selector) {
  for (const abi::VipEntry& vip : snapshot.view.vips()) {
    if (selector == vip.name) return &vip;
  }
  std::string endpoint_text = selector;
  std::optional<abi::L4Protocol> protocol;
  if (const size_t slash = selector.rfind('/'); slash != std::string::npos) {
    const std::string suffix = selector.substr(slash + 1);
    if (suffix == "tcp") protocol = abi::L4Protocol::kTcp;
    else if (suffix == "udp") protocol = abi::L4Protocol::kUdp;
    else return make_error("unknown VIP \"{}\" (protocol must be tcp or udp)", selector);
    endpoint_text = selector.substr(0, slash);
  }
  auto endpoint = Endpoint::parse(endpoint_text);
  if (!endpoint) return make_error("unknown VIP \"{}\" (not a VIP name or ADDRESS:PORT)", selector);
  const abi::VipEntry* found = nullptr;
  for (const abi::VipEntry& vip : snapshot.view.vips()) {
    if (endpoint_of(vip) != *endpoint || (protocol && *protocol != vip.protocol)) continue;
    if (found != nullptr) return make_error("VIP \"{}\" is ambiguous: add /tcp or /udp", selector);
    found = &vip;
  }
  if (found == nullptr) return make_error("unknown VIP \"{}\"", selector);
  return found;
}

std::string render_vips(const TableSnapshot& snapshot, bool json_output) {
  if (json_output) {
    json out = {{"generation", snapshot.generation}, {"vips", json::array()}};
    for (const abi::VipEntry& vip : snapshot.view.vips()) out["vips"].push_back(vip_json(vip));
    return out.dump(2) + "\n";
  }
  std::vector<std::vector<std::string>> rows{{"NAME", "VIP", "PROTO", "MODE", "TABLE", "BACKENDS", "UP"}};
  for (const abi::VipEntry& vip : snapshot.view.vips()) {
    rows.push_back({vip.name, endpoint_of(vip).to_string(), std::string(to_string(vip.protocol)),
                    std::string(to_string(vip.mode)), std::to_string(vip.table_size),
                    std::to_string(vip.backend_count), std::to_string(vip.up_count)});
  }
  return header_line(snapshot) + columns(rows);
}

Result<std::string> render_backends(const TableSnapshot& snapshot, const std::string& selector, bool json_output) {
  auto vip = find_vip(snapshot, selector);
  if (!vip) return std::move(vip).error();
  const abi::VipEntry& entry = **vip;
  if (json_output) {
    json out = {{"vip", vip_json(entry)}, {"generation", snapshot.generation}, {"backends", json::array()}};
    for (uint32_t i = 0; i < entry.backend_count; ++i) out["backends"].push_back(backend_json(snapshot, entry, i));
    return out.dump(2) + "\n";
  }
  std::vector<std::vector<std::string>> rows{{"#", "NAME", "ADDRESS", "STATE", "WEIGHT", "SLOTS", "SHARE"}};
  const auto backends = snapshot.view.backends_of(entry);
  for (uint32_t i = 0; i < backends.size(); ++i) {
    const abi::BackendEntry& backend = backends[i];
    rows.push_back({std::to_string(i), backend.name, endpoint_of(backend).to_string(),
                    std::string(to_string(backend.state)), std::to_string(backend.weight),
                    std::to_string(backend.slot_count),
                    percent(static_cast<double>(backend.slot_count) / entry.table_size)});
  }
  return fmt::format("vip {} {} {} {}, ", entry.name, endpoint_of(entry).to_string(), to_string(entry.protocol),
                     to_string(entry.mode)) +
         header_line(snapshot) + columns(rows);
}

Result<std::string> render_table(const TableSnapshot& snapshot, const std::string& selector, bool json_output,
                                 std::optional<SlotRange> range) {
  auto vip = find_vip(snapshot, selector);
  if (!vip) return std::move(vip).error();
  const abi::VipEntry& entry = **vip;
  const auto slots = snapshot.view.slots_of(entry);
  if (range && range->last >= entry.table_size) {
    return make_error("slot range {}:{} is outside the table (size {})", range->first, range->last,
                      entry.table_size);
  }
  const SlotRange shown = range.value_or(SlotRange{0, entry.table_size - 1});
  const auto backends = snapshot.view.backends_of(entry);

  if (json_output) {
    json out = {{"vip", entry.name},
                {"address", endpoint_of(entry).address.to_string()},
                {"port", entry.port},
                {"protocol", to_string(entry.protocol)},
                {"size", entry.table_size},
                {"generation", snapshot.generation},
                {"digest", digest_of(snapshot, entry)},
                {"backends", json::array()}};
    for (uint32_t i = 0; i < entry.backend_count; ++i) out["backends"].push_back(backend_json(snapshot, entry, i));
    if (range) {  // the raw slots only when asked for (65537 of them by default)
      out["slots_first"] = shown.first;
      json& slot_array = out["slots"] = json::array();
      for (uint32_t s = shown.first; s <= shown.last; ++s) {
        if (slots[s] == abi::kNoBackend) slot_array.push_back(nullptr);
        else slot_array.push_back(slots[s]);
      }
    }
    return out.dump(2) + "\n";
  }

  std::string out = fmt::format("vip {} {} {}, table size {}, ", entry.name, endpoint_of(entry).to_string(),
                                to_string(entry.protocol), entry.table_size) +
                    header_line(snapshot);
  if (range) {
    std::vector<std::vector<std::string>> rows{{"SLOT", "#", "NAME", "ADDRESS"}};
    for (uint32_t s = shown.first; s <= shown.last; ++s) {
      if (slots[s] == abi::kNoBackend) {
        rows.push_back({std::to_string(s), "-", "-", "-"});
      } else {
        rows.push_back({std::to_string(s), std::to_string(slots[s]), backends[slots[s]].name,
                        endpoint_of(backends[slots[s]]).to_string()});
      }
    }
    return out + columns(rows);
  }
  const uint64_t total_weight = up_weight_total(snapshot, entry);
  std::vector<std::vector<std::string>> rows{{"#", "NAME", "ADDRESS", "STATE", "WEIGHT", "SLOTS", "SHARE",
                                              "WEIGHT-SHARE", "DEVIATION"}};
  for (uint32_t i = 0; i < backends.size(); ++i) {
    const abi::BackendEntry& backend = backends[i];
    const double share = static_cast<double>(backend.slot_count) / entry.table_size;
    const bool up = backend.state == abi::BackendState::kUp && total_weight > 0;
    const double target = up ? static_cast<double>(backend.weight) / total_weight : 0.0;
    const double relative = target > 0 ? 100.0 * (share - target) / target : 0.0;
    const std::string deviation =
        target > 0 ? (std::abs(relative) < 0.005 ? std::string("0.00%") : fmt::format("{:+.2f}%", relative)) : "-";
    rows.push_back({std::to_string(i), backend.name, endpoint_of(backend).to_string(),
                    std::string(to_string(backend.state)), std::to_string(backend.weight),
                    std::to_string(backend.slot_count), percent(share), percent(target), deviation});
  }
  out += columns(rows);
  if (entry.up_count == 0) out += "no backend is up: every new flow to this VIP is dropped (reason no_backend)\n";
  out += fmt::format("digest {}\n", digest_of(snapshot, entry));
  return out;
}

Result<std::string> render_which(const TableSnapshot& snapshot, const std::string& selector, const std::string& source,
                                 bool json_output) {
  auto vip = find_vip(snapshot, selector);
  if (!vip) return std::move(vip).error();
  const abi::VipEntry& entry = **vip;
  auto client = Endpoint::parse(source);
  if (!client) return std::move(client).error();
  if (client->address.family != entry.family) return make_error("{} and the VIP are of different families", source);
  abi::FlowKey key{};
  key.family = entry.family;
  key.protocol = static_cast<uint8_t>(entry.protocol);
  std::memcpy(key.src, client->address.bytes.data(), 16);
  std::memcpy(key.dst, entry.address, 16);
  key.src_port_be = htons(client->port);
  key.dst_port_be = htons(entry.port);
  const uint64_t hash = abi::flow_hash(key, snapshot.view.flow_hash_seed());
  const uint32_t slot = static_cast<uint32_t>(hash % entry.table_size);
  const uint32_t member = snapshot.view.slots_of(entry)[slot];
  const abi::BackendEntry* backend = member < entry.backend_count ? &snapshot.view.backends_of(entry)[member] : nullptr;
  if (json_output) {
    json out = {{"vip", entry.name}, {"source", client->to_string()}, {"generation", snapshot.generation},
                {"hash", fmt::format("{:#018x}", hash)}, {"slot", slot}, {"backend", nullptr}};
    if (backend != nullptr) out["backend"] = backend_json(snapshot, entry, member);
    return out.dump() + "\n";
  }
  if (backend == nullptr) return fmt::format("no backend (slot {} is empty: the VIP has no backend up)\n", slot);
  return fmt::format("{} {} (slot {}, flow hash {:#018x}, generation {})\n", backend->name,
                     endpoint_of(*backend).to_string(), slot, hash, snapshot.generation);
}

Result<std::string> render_digest(const TableSnapshot& snapshot, const std::string& selector, bool json_output) {
  auto vip = find_vip(snapshot, selector);
  if (!vip) return std::move(vip).error();
  const std::string digest = digest_of(snapshot, **vip);
  if (json_output) {
    return json{{"vip", (*vip)->name}, {"generation", snapshot.generation}, {"digest", digest}}.dump() + "\n";
  }
  return digest + "\n";
}

}  // namespace eclb::ctl::cli
