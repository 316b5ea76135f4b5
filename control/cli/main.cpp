// eclbctl: the ops CLI. Read-only dumps straight from the table region in shared memory,
// so they work while eclb-control is down.
#include <CLI/CLI.hpp>
#include <cstdlib>

#include "common/table_segment.h"
#include "control/cli/table_commands.h"

namespace {

constexpr const char* kDefaultSegment = "/dev/shm/eclb-tables";

int fail(const std::string& message) {
  fmt::print(stderr, "eclbctl: {}\n", message);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"eclbctl: inspect and operate an eclb balancer"};
  app.require_subcommand(1);
  const char* env_segment = std::getenv("ECLB_SEGMENT");
  std::string segment = env_segment != nullptr ? env_segment : kDefaultSegment;
  bool json = false;
  app.add_option("--segment", segment, "table region path (default $ECLB_SEGMENT or /dev/shm/eclb-tables)");
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
  for (auto* command : {vips_command, backends_command, table_command, which_command}) {
    command->add_flag("--json", json, "print JSON instead of a table");
  }
  CLI11_PARSE(app, argc, argv);

  auto attached = eclb::TableSegment::attach(segment, eclb::MappedFile::Access::kReadOnly);
  if (!attached) return fail(attached.error().message);
  auto snapshot = attached->snapshot();
  if (!snapshot) return fail(snapshot.error().message);

  eclb::Result<std::string> output = std::string();
  if (vips_command->parsed()) {
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
