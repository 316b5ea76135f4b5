// Owning an af_xdp interface across dataplane runs, with no moment in which the kernel
// gets the dataplane's traffic (it would reset connections to a VIP address it holds
// too, e.g. an L7 VIP on lo).
//
// The af_xdp PMD attaches its XDP program with XDP_FLAGS_UPDATE_IF_NOEXIST, and a
// program attached through netlink outlives its process: after a SIGKILL the steering
// program stays (no socket bound: it drops the dataplane's traffic, passes the rest),
// and the next start failed in RX queue setup ("XDP program already attached").
// take_over() runs before an af_xdp port's queues are set up: it takes a per-interface
// lock that a live dataplane holds for its whole run (the kernel releases a dead one's),
// and with it held replaces eclb's own stale steering program by the tc guard
// (bpf/tc_steer_guard.bpf.c, over the stale program's maps), detaching the program
// compare-and-detach (XDP_FLAGS_REPLACE) so one attached meanwhile by someone else is
// never removed. steering_ready() removes the guard once the new program steers.
// A clean stop leaves the run's steering program attached (hold()), so an upgrade is
// taken over the same way. The PMD's default program (no xdp_prog=) is left in place:
// libxdp reuses it. A foreign program is left alone and reported. Startup and shutdown.
#pragma once

#include <string>

#include "common/result.h"

struct tc_steer_guard;

namespace eclb::dp {

class AfXdpInterface {
 public:
  // Locks interface `if_index` of this network namespace for this process (lock files
  // in `lock_dir`) and, if a stale eclb steering program is attached, guards the
  // interface and detaches it. Fails, with the reason, if another live eclb-dataplane
  // holds the interface or a foreign XDP program is attached.
  static Result<AfXdpInterface> take_over(unsigned if_index, const std::string& lock_dir);

  AfXdpInterface(AfXdpInterface&& other) noexcept;
  AfXdpInterface& operator=(AfXdpInterface&& other) noexcept;
  ~AfXdpInterface();

  unsigned if_index() const noexcept { return if_index_; }
  bool guarded() const noexcept { return guard_ != nullptr; }
  // The new run's steering program is attached and its maps filled: the guard goes.
  void steering_ready() noexcept;
  // After a clean stop closed the port (the PMD detached its program): attaches
  // `program_fd` (the run's steering program, kept open) again, if nothing else is, so
  // the dataplane's traffic is held for the next run. Returns whether it did.
  bool hold(int program_fd) noexcept;

 private:
  AfXdpInterface() = default;
  void remove_guard() noexcept;

  unsigned if_index_ = 0;
  std::string name_;
  int lock_fd_ = -1;
  tc_steer_guard* guard_ = nullptr;
  bool created_hook_ = false;  // the clsact qdisc is ours to remove with the guard
};

}  // namespace eclb::dp
