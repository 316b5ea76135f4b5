// eclbctl: the ops CLI. Read-only dumps straight from the table region in shared memory,
// so they work while eclb-control is down.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <optional>

#include "common/table_segment.h"
#include "control/cli/dataplane_commands.h"
#include "control/cli/table_commands.h"

namespace {

constexpr const char* kDefaultSegment = "/dev/shm/eclb-tables";
constexpr const char* kDefaultStats = "/dev/shm/eclb-stats";
constexpr const char* kDefaultFlows = "/dev/hugepages/eclb-flows";

std::string from_env(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : fallback;
}

int fail(const std::string& message) {
  fmt::print(stderr, "eclbctl: {}\n", message);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"eclbctl: inspect and operate an eclb balancer"};
  app.require_subcommand(1);
  std::string segment = from_env("ECLB_SEGMENT", kDefaultSegment);
  std::string stats_path = from_env("ECLB_STATS", kDefaultStats);
  std::string flows_path = from_env("ECLB_FLOWS", kDefaultFlows);
  bool json = false;
  app.add_option("--segment", segment, "table region path (default $ECLB_SEGMENT or /dev/shm/eclb-tables)");
  app.add_option("--stats", stats_path, "dataplane stats region (default $ECLB_STATS or /dev/shm/eclb-stats)");
  app.add_option("--flows", flows_path, "dataplane flow region (default $ECLB_FLOWS or /dev/hugepages/eclb-flows)");
  app.add_flag("--json", json, "print JSON instead of a table");

  std::string vip;
  std::string slot_text;
  bool digest = false;
  auto* vips_command = app.add_subcommand("vips", "list the VIPs");
  auto* backends_command = app.add_subcommand("backends", "list a VIP's backends with state, weight and slots");
  backends_command->add_option("VIP", vip, "VIP name or ADDRESS:PORT[/tcp|udp]")->required();
  auto* table_command = app.add_subcommand("table", "show a VIP's Maglev table: share per backend against weight");
  table_command->add_option("VIP", vip, "VIP name or ADDRESS:PORT[/tcp|udp]")->required();
  table_command->add_option("--slots", slot_text, "print the raw slots FIRST:LAST (inclusive)");
  table_command->add_flag("--digest", digest, "print only the table digest, to compare hosts");
  std::string source;
  auto* which_command = app.add_subcommand("which", "which backend a new flow from SOURCE to the VIP goes to");
  which_command->add_option("VIP", vip, "VIP name or ADDRESS:PORT[/tcp|udp]")->required();
  which_command->add_option("SOURCE", source, "client ADDRESS:PORT")->required();
  auto* stats_command = app.add_subcommand("stats", "dataplane counters: per worker, drops by reason, per VIP and backend");
  size_t limit = 20;
  auto* flows_command = app.add_subcommand("flows", "flow table entries of a VIP, by backend");
  flows_command->add_option("VIP", vip, "VIP name or ADDRESS:PORT[/tcp|udp]")->required();
  flows_command->add_option("--limit", limit, "entries to list (most recently active first)");
  for (auto* command : {vips_command, backends_command, table_command, which_command, stats_command, flows_command}) {
    command->add_flag("--json", json, "print JSON instead of a table");
  }
  CLI11_PARSE(app, argc, argv);

  if (stats_command->parsed()) {
    auto stats = eclb::StatsReader::attach(stats_path);
    if (!stats) return fail(stats.error().message);
    // Names come from the tables; counters still print without them.
    std::optional<eclb::TableSnapshot> snapshot;
    if (auto tables = eclb::TableSegment::attach(segment, eclb::MappedFile::Access::kReadOnly); tables) {
      if (auto taken = tables->snapshot(); taken) snapshot = std::move(*taken);
    }
    fmt::print("{}", eclb::ctl::cli::render_stats(*stats, snapshot ? &*snapshot : nullptr, json));
    return 0;
  }

  auto attached = eclb::TableSegment::attach(segment, eclb::MappedFile::Access::kReadOnly);
  if (!attached) return fail(attached.error().message);
  auto snapshot = attached->snapshot();
  if (!snapshot) return fail(snapshot.error().message);

  eclb::Result<std::string> output = std::string();
  if (flows_command->parsed()) {
    auto flows = eclb::FlowReader::attach(flows_path);
    if (!flows) return fail(flows.error().message);
    output = eclb::ctl::cli::render_flows(*flows, *snapshot, vip, limit, json);
  } else if (vips_command->parsed()) {
    output = eclb::ctl::cli::render_vips(*snapshot, json);
  } else if (backends_command->parsed()) {
    output = eclb::ctl::cli::render_backends(*snapshot, vip, json);
  } else if (which_command->parsed()) {
    output = eclb::ctl::cli::render_which(*snapshot, vip, source, json);
  } else if (digest) {
    output = eclb::ctl::cli::render_digest(*snapshot, vip, json);
  } else {
    std::optional<eclb::ctl::cli::SlotRange> range;
    if (!slot_text.empty()) {
      auto parsed = eclb::ctl::cli::parse_slot_range(slot_text);
      if (!parsed) return fail(parsed.error().message);
      range = *parsed;
    }
    output = eclb::ctl::cli::render_table(*snapshot, vip, json, range);
  }
  if (!output) return fail(output.error().message);
  fmt::print("{}", *output);
  return 0;
}
