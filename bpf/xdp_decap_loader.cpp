// eclb-xdp-decap: attaches the gateway-side XDP decapsulator (xdp_decap.bpf.c) to an
// interface, detaches it, or prints its counters. The program stays attached after the
// loader exits (netlink attachment), like `ip link set dev X xdp obj ...`.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <vector>

#include "bpf/include/xdp_decap_maps.h"
#include "xdp_decap.skel.h"

namespace {

int fail(const std::string& message) {
  fmt::print(stderr, "eclb-xdp-decap: {}\n", message);
  return 1;
}

uint32_t mode_flags(const std::string& mode) {
  return mode == "generic" ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
}

int attach(unsigned ifindex, const std::string& iface, uint16_t gue_port, const std::string& mode) {
  xdp_decap* skeleton = xdp_decap__open();
  if (skeleton == nullptr) return fail(fmt::format("cannot open the BPF object: {}", std::strerror(errno)));
  skeleton->rodata->gue_port = gue_port;
  if (const int rc = xdp_decap__load(skeleton); rc != 0) {
    xdp_decap__destroy(skeleton);
    return fail(fmt::format("cannot load the program: {}", std::strerror(-rc)));
  }
  const int fd = bpf_program__fd(skeleton->progs.xdp_decap);
  const int rc = bpf_xdp_attach(static_cast<int>(ifindex), fd, mode_flags(mode), nullptr);
  xdp_decap__destroy(skeleton);  // the attachment holds its own reference
  if (rc != 0) return fail(fmt::format("cannot attach to {} in {} mode: {}", iface, mode, std::strerror(-rc)));
  fmt::print("attached xdp_decap to {} ({} mode, GUE port {})\n", iface, mode, gue_port);
  return 0;
}

int stats(unsigned ifindex, const std::string& iface) {
  uint32_t prog_id = 0;
  for (uint32_t flags : {XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE}) {
    if (bpf_xdp_query_id(static_cast<int>(ifindex), static_cast<int>(flags), &prog_id) == 0 && prog_id != 0) break;
  }
  if (prog_id == 0) return fail(fmt::format("no XDP program on {}", iface));
  const int prog_fd = bpf_prog_get_fd_by_id(prog_id);
  if (prog_fd < 0) return fail(fmt::format("cannot open program {}: {}", prog_id, std::strerror(errno)));
  bpf_prog_info info{};
  uint32_t map_ids[4] = {};
  info.nr_map_ids = 4;
  info.map_ids = reinterpret_cast<uint64_t>(map_ids);
  uint32_t length = sizeof info;
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &length) != 0) return fail("cannot read program info");
  for (uint32_t i = 0; i < info.nr_map_ids && i < 4; ++i) {
    const int map_fd = bpf_map_get_fd_by_id(map_ids[i]);
    bpf_map_info map_info{};
    uint32_t map_length = sizeof map_info;
    if (map_fd < 0 || bpf_obj_get_info_by_fd(map_fd, &map_info, &map_length) != 0) continue;
    if (std::strcmp(map_info.name, "decap_stats") != 0) continue;
    const int cpus = libbpf_num_possible_cpus();
    static constexpr const char* kNames[] = {"ipip", "ip6ip6", "gue", "pass", "malformed"};
    for (uint32_t counter = 0; counter < ECLB_DECAP_COUNTERS; ++counter) {
      std::vector<uint64_t> values(static_cast<size_t>(cpus), 0);
      uint64_t total = 0;
      if (bpf_map_lookup_elem(map_fd, &counter, values.data()) == 0) {
        for (uint64_t value : values) total += value;
      }
      fmt::print("{} {}\n", kNames[counter], total);
    }
    return 0;
  }
  return fail(fmt::format("the XDP program on {} is not xdp_decap", iface));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"eclb-xdp-decap: XDP decapsulation of eclb DSR traffic (IPIP, IP6IP6, GUE) on a gateway"};
  app.set_version_flag("--version", ECLB_VERSION);
  app.require_subcommand(1);
  std::string iface, mode = "native";
  uint16_t gue_port = 6080;
  auto* attach_command = app.add_subcommand("attach", "attach to an interface");
  attach_command->add_option("IFACE", iface)->required();
  attach_command->add_option("--gue-port", gue_port, "UDP destination port of GUE");
  attach_command->add_option("--mode", mode, "native or generic")->check(CLI::IsMember({"native", "generic"}));
  auto* detach_command = app.add_subcommand("detach", "detach from an interface");
  detach_command->add_option("IFACE", iface)->required();
  detach_command->add_option("--mode", mode, "native or generic")->check(CLI::IsMember({"native", "generic"}));
  auto* stats_command = app.add_subcommand("stats", "print the decapsulation counters");
  stats_command->add_option("IFACE", iface)->required();
  CLI11_PARSE(app, argc, argv);

  const unsigned ifindex = if_nametoindex(iface.c_str());
  if (ifindex == 0) return fail(fmt::format("no interface {}", iface));
  if (attach_command->parsed()) return attach(ifindex, iface, gue_port, mode);
  if (detach_command->parsed()) {
    const int rc = bpf_xdp_detach(static_cast<int>(ifindex), mode_flags(mode), nullptr);
    if (rc != 0) return fail(fmt::format("cannot detach from {}: {}", iface, std::strerror(-rc)));
    return 0;
  }
  return stats(ifindex, iface);
}
