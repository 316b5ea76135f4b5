// eclbctl: the ops CLI. Read-only dumps straight from the table region in shared memory,
// so they work while eclb-control is down.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <cstdlib>
#include <optional>

#include "abi/admin_protocol.h"
#include "common/table_segment.h"
#include "control/cli/admin_client.h"
#include "control/cli/announce_commands.h"
#include "control/cli/cluster_commands.h"
#include "control/cli/dataplane_commands.h"
#include "control/cli/what_if.h"
#include "control/cli/table_commands.h"

namespace {

constexpr const char* kDefaultSegment = "/dev/shm/eclb-tables";
constexpr const char* kDefaultStats = "/dev/shm/eclb-stats";
constexpr const char* kDefaultFlows = "/dev/hugepages/eclb-flows";
constexpr const char* kDefaultAdmin = "/run/eclb/admin.sock";

std::string from_env(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : fallback;
}

int fail(const std::string& message) {
  fmt::print(stderr, "eclbctl: {}\n", message);
  return 1;
}

}  // namespace

namespace protocol = eclb::abi::admin;

int main(int argc, char** argv) {
  CLI::App app{"eclbctl: inspect and operate an eclb balancer"};
  app.set_version_flag("--version", ECLB_VERSION);
  app.require_subcommand(1);
  std::string segment = from_env("ECLB_SEGMENT", kDefaultSegment);
  std::string stats_path = from_env("ECLB_STATS", kDefaultStats);
  std::string flows_path = from_env("ECLB_FLOWS", kDefaultFlows);
  std::string admin_path = from_env("ECLB_ADMIN", kDefaultAdmin);
  bool json = false;
  app.add_option("--segment", segment, "table region path (default $ECLB_SEGMENT or /dev/shm/eclb-tables)");
  app.add_option("--stats", stats_path, "dataplane stats region (default $ECLB_STATS or /dev/shm/eclb-stats)");
  app.add_option("--flows", flows_path, "dataplane flow region (default $ECLB_FLOWS or /dev/hugepages/eclb-flows)");
  app.add_option("--admin", admin_path, "eclb-control admin socket (default $ECLB_ADMIN or /run/eclb/admin.sock)");
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
  // Changes, through eclb-control's admin socket.
  std::string backend, pool, ramp;
  uint32_t weight = 0;
  auto* drain_command = app.add_subcommand("drain", "stop new flows to a backend (its flows stay)");
  auto* undrain_command = app.add_subcommand("undrain", "let a drained backend take new flows again");
  for (auto* command : {drain_command, undrain_command}) {
    command->add_option("BACKEND", backend, "backend name or ADDRESS:PORT")->required();
    command->add_option("--pool", pool, "pool, when the backend is in several");
  }
  auto* weight_command = app.add_subcommand("weight", "change a backend's weight, at once or ramped");
  weight_command->add_option("BACKEND", backend, "backend name or ADDRESS:PORT")->required();
  weight_command->add_option("WEIGHT", weight, "new weight (0 = no new flows)")->required()->check(CLI::Range(0u, 1000000u));
  weight_command->add_option("--pool", pool, "pool, when the backend is in several");
  weight_command->add_option("--ramp", ramp, "move there linearly over this long (e.g. 30s, 5m)");
  auto* reload_command = app.add_subcommand("reload", "re-read eclb-control's config (a bad file is rejected)");
  auto* health_command = app.add_subcommand("health", "live health of every backend: state, last check, latency");
  // Announcements to the routers (through BIRD).
  bool all_vips = false;
  auto* withdraw_command = app.add_subcommand("withdraw", "stop announcing a VIP's address (or --all) to the routers");
  auto* announce_command = app.add_subcommand("announce", "undo withdraw: announce again while the VIP can be served");
  for (auto* command : {withdraw_command, announce_command}) {
    auto* one = command->add_option("VIP", vip, "VIP name");
    auto* every = command->add_flag("--all", all_vips, "every VIP");
    one->excludes(every);
  }
  auto* announcements_command =
      app.add_subcommand("announcements", "what this host announces and why; BIRD's BGP and BFD sessions");
  auto* cluster_command = app.add_subcommand(
      "cluster", "every host of the tier (cluster.peers) side by side: digests, generations, announcements");
  std::string remove, add;
  uint32_t add_weight = 1;
  auto* what_if_command = app.add_subcommand("what-if", "how much of a VIP's table and flows would move");
  what_if_command->add_option("VIP", vip, "VIP name or ADDRESS:PORT[/tcp|udp]")->required();
  auto* remove_option = what_if_command->add_option("--remove", remove, "a member leaves (name or ADDRESS:PORT)");
  auto* add_option = what_if_command->add_option("--add", add, "a backend ADDRESS:PORT joins");
  what_if_command->add_option("--weight", add_weight, "weight of the added backend");
  remove_option->excludes(add_option);
  for (auto* command : {vips_command, backends_command, table_command, which_command, stats_command, flows_command,
                        drain_command, undrain_command, weight_command, reload_command, health_command,
                        what_if_command, withdraw_command, announce_command, announcements_command, cluster_command}) {
    command->add_flag("--json", json, "print JSON instead of a table");
  }
  CLI11_PARSE(app, argc, argv);

  const auto admin = [&](const nlohmann::json& request) -> int {
    auto answer = eclb::ctl::cli::admin_request(admin_path, request);
    if (!answer && json) {
      // --json answers JSON whatever happened: scripts parse one format.
      fmt::print("{}\n", nlohmann::json{{protocol::kOk, false}, {protocol::kError, answer.error().message}}.dump(2));
      return 1;
    }
    if (!answer) return fail(answer.error().message);
    if (request[protocol::kCommand] == protocol::kHealth) {
      fmt::print("{}", eclb::ctl::cli::render_health(*answer, json));
    } else if (request[protocol::kCommand] == protocol::kCluster) {
      fmt::print("{}", eclb::ctl::cli::render_cluster(eclb::ctl::cli::gather_cluster(*answer), json));
    } else if (answer->contains("addresses")) {  // announcements, and what withdraw/announce changed
      fmt::print("{}", eclb::ctl::cli::render_announcements(*answer, json));
    } else if (json) {
      fmt::print("{}\n", answer->dump(2));
    } else {
      fmt::print("{}: {}, table generation {}\n", request[protocol::kCommand].get<std::string>(),
                 (*answer)[protocol::kPublished].get<bool>() ? "published" : "no change", (*answer)[protocol::kGeneration].get<uint64_t>());
    }
    return 0;
  };
  if (drain_command->parsed() || undrain_command->parsed()) {
    return admin({{protocol::kCommand, drain_command->parsed() ? protocol::kDrain : protocol::kUndrain},
                  {protocol::kBackend, backend},
                  {protocol::kPool, pool}});
  }
  if (weight_command->parsed()) {
    uint64_t ramp_ms = 0;
    if (!ramp.empty()) {
      auto parsed = eclb::ctl::cli::parse_duration_ms(ramp);
      if (!parsed) return fail(parsed.error().message);
      ramp_ms = *parsed;
    }
    return admin({{protocol::kCommand, protocol::kWeight},
                  {protocol::kBackend, backend},
                  {protocol::kPool, pool},
                  {protocol::kWeightValue, weight},
                  {protocol::kRampMs, ramp_ms}});
  }
  if (reload_command->parsed()) return admin({{protocol::kCommand, protocol::kReload}});
  if (health_command->parsed()) return admin({{protocol::kCommand, protocol::kHealth}});
  if (withdraw_command->parsed() || announce_command->parsed()) {
    if (vip.empty() && !all_vips) return fail("name a VIP, or --all");
    nlohmann::json request{{protocol::kCommand, withdraw_command->parsed() ? protocol::kWithdraw : protocol::kAnnounce}};
    if (!all_vips) request[protocol::kVip] = vip;
    return admin(request);
  }
  if (announcements_command->parsed()) return admin({{protocol::kCommand, protocol::kAnnouncements}});
  if (cluster_command->parsed()) return admin({{protocol::kCommand, protocol::kCluster}});
  if (what_if_command->parsed() && remove.empty() && add.empty()) return fail("what-if needs --remove or --add");

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
  if (what_if_command->parsed()) {
    auto flows = eclb::FlowReader::attach(flows_path);
    output = eclb::ctl::cli::render_what_if(*snapshot, flows ? &*flows : nullptr, vip, {remove, add, add_weight}, json);
  } else if (flows_command->parsed()) {
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
