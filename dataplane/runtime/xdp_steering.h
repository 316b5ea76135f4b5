// XdpSteering: keeps the maps of bpf/xdp_steer.bpf.c in step with the tables, for an
// af_xdp port whose PMD loaded that program (--vdev net_af_xdp0,...,xdp_prog=PATH).
// The PMD owns the program; this finds it through the interface (the attached program's
// maps, by name), so nothing needs pinning or a bpffs. Runs on the control lcore, on
// table changes only: map updates are syscalls, never on the packet path.
//
// What goes to DPDK: every L4 VIP (address, port, protocol) of the table; ARP/ND and
// ICMP for L4 VIP addresses; everything for the port's own address and fullnat
// addresses. L7 VIPs (served by eclb-control through the kernel) and the rest stay in
// the kernel.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"
#include "common/table_view.h"

namespace eclb::dp {

// An XDP program's name and, when it is eclb's steering program, its two maps (by name;
// descriptors the caller closes).
struct XdpProgramInfo {
  std::string name;
  int l4_map = -1;
  int address_map = -1;
  bool steering() const noexcept { return l4_map >= 0 && address_map >= 0; }
  void close_maps() noexcept;
};
Result<XdpProgramInfo> inspect_xdp_program(int program_fd);

class XdpSteering {
 public:
  // The steering maps of the XDP program attached to `if_index`; nullopt when the
  // attached program is not eclb's steering program (the PMD's default redirects all).
  static Result<std::optional<XdpSteering>> find(unsigned if_index, std::vector<IpAddress> local_addresses);
  XdpSteering(XdpSteering&& other) noexcept;
  XdpSteering& operator=(XdpSteering&&) = delete;
  ~XdpSteering();

  // Makes the maps say exactly what `table` (plus the local addresses) needs.
  Result<void> sync(const TableView& table);
  size_t l4_entries() const noexcept { return l4_.size(); }
  int program_fd() const noexcept { return program_fd_; }  // the steering program, kept open
  size_t address_entries() const noexcept { return addresses_.size(); }

 private:
  XdpSteering(int program_fd, int l4_fd, int address_fd, std::vector<IpAddress> local_addresses)
      : program_fd_(program_fd), l4_fd_(l4_fd), address_fd_(address_fd), local_addresses_(std::move(local_addresses)) {}

  int program_fd_ = -1;
  int l4_fd_ = -1;
  int address_fd_ = -1;
  std::vector<IpAddress> local_addresses_;
  std::map<std::string, std::string> l4_;         // key bytes -> value bytes, as in the map
  std::map<std::string, std::string> addresses_;
};

}  // namespace eclb::dp
