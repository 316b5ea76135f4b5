// Owning an af_xdp interface across runs (see af_xdp_takeover.h).
#include "dataplane/runtime/af_xdp_takeover.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>
#include <utility>

#include "common/log.h"
#include "dataplane/runtime/xdp_steering.h"
#include "tc_steer_guard.skel.h"

namespace eclb::dp {
namespace {

// The program the af_xdp PMD loads without xdp_prog= (libxdp's, by that name).
constexpr const char* kDefaultXskProgram = "xsk_def_prog";
// The guard's tc filter: a handle and priority of its own on the ingress hook.
constexpr uint32_t kGuardHandle = 0xEC1B;
constexpr uint32_t kGuardPriority = 1;

std::string interface_name(unsigned if_index) {
  char name[IF_NAMESIZE] = {};
  return if_indextoname(if_index, name) != nullptr ? std::string(name) : std::to_string(if_index);
}

bpf_tc_hook ingress_hook(unsigned if_index) {
  bpf_tc_hook hook{};
  hook.sz = sizeof hook;
  hook.ifindex = static_cast<int>(if_index);
  hook.attach_point = BPF_TC_INGRESS;
  return hook;
}

}  // namespace

AfXdpInterface::AfXdpInterface(AfXdpInterface&& other) noexcept
    : if_index_(other.if_index_),
      name_(std::move(other.name_)),
      lock_fd_(std::exchange(other.lock_fd_, -1)),
      guard_(std::exchange(other.guard_, nullptr)),
      created_hook_(std::exchange(other.created_hook_, false)) {}

AfXdpInterface& AfXdpInterface::operator=(AfXdpInterface&& other) noexcept {
  if (this != &other) {
    remove_guard();
    if (lock_fd_ >= 0) close(lock_fd_);
    if_index_ = other.if_index_;
    name_ = std::move(other.name_);
    lock_fd_ = std::exchange(other.lock_fd_, -1);
    guard_ = std::exchange(other.guard_, nullptr);
    created_hook_ = std::exchange(other.created_hook_, false);
  }
  return *this;
}

AfXdpInterface::~AfXdpInterface() {
  remove_guard();
  if (lock_fd_ >= 0) close(lock_fd_);  // releases the flock
}

Result<AfXdpInterface> AfXdpInterface::take_over(unsigned if_index, const std::string& lock_dir) {
  AfXdpInterface self;
  self.if_index_ = if_index;
  self.name_ = interface_name(if_index);
  const std::string& name = self.name_;
  // One lock per interface of this network namespace: the namespace's inode tells
  // namespaces (and their equal interface indexes) apart.
  struct stat netns {};
  if (stat("/proc/self/ns/net", &netns) != 0) {
    return make_error("cannot identify the network namespace: {}", std::strerror(errno));
  }
  std::error_code ignored;
  std::filesystem::create_directories(lock_dir, ignored);
  const std::string path = fmt::format("{}/af_xdp-{}-{}.lock", lock_dir, netns.st_ino, if_index);
  self.lock_fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (self.lock_fd_ < 0) return make_error("interface {}: cannot open lock {}: {}", name, path, std::strerror(errno));
  // A previous run that is still stopping (an upgrade) gets a few seconds to let go.
  for (int waited = 0; flock(self.lock_fd_, LOCK_EX | LOCK_NB) != 0; ++waited) {
    if (errno != EWOULDBLOCK) return make_error("interface {}: cannot lock {}: {}", name, path, std::strerror(errno));
    if (waited == 50) return make_error("interface {} is in use by another eclb-dataplane (lock {})", name, path);
    if (waited == 0) log::info("dp.runtime", "interface={} waiting for the eclb-dataplane using it to stop", name);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  bpf_xdp_query_opts query{};
  query.sz = sizeof query;
  if (bpf_xdp_query(static_cast<int>(if_index), 0, &query) != 0) {
    return make_error("interface {}: cannot query its XDP program: {}", name, std::strerror(errno));
  }
  if (query.attach_mode == XDP_ATTACHED_NONE) return self;
  const uint32_t program_id = query.attach_mode == XDP_ATTACHED_SKB ? query.skb_prog_id : query.drv_prog_id;
  const int program_fd = program_id != 0 ? bpf_prog_get_fd_by_id(program_id) : -1;
  if (program_fd < 0 || (query.attach_mode != XDP_ATTACHED_DRV && query.attach_mode != XDP_ATTACHED_SKB)) {
    if (program_fd >= 0) close(program_fd);
    return make_error("interface {} has XDP program(s) attached that eclb cannot take over (mode {}): detach them "
                      "(ip link set dev {} xdp off) or use another interface", name, query.attach_mode, name);
  }
  auto program = inspect_xdp_program(program_fd);
  if (program && !program->steering() && program->name == kDefaultXskProgram) {
    program->close_maps();
    close(program_fd);  // the PMD's default program (no xdp_prog=): libxdp reuses it as it is
    return self;
  }
  if (!program || !program->steering()) {
    close(program_fd);
    if (!program) return std::move(program).error();
    program->close_maps();
    return make_error("interface {} has another XDP program attached (id {}, name \"{}\"): eclb-dataplane will not "
                      "replace it; detach it (ip link set dev {} xdp off) or use another interface",
                      name, program_id, program->name, name);
  }

  // Ours, and no live dataplane holds the interface: a killed or stopped run's. First the
  // guard, over the same maps, so that nothing of the dataplane's reaches the kernel once
  // the program is gone; then compare-and-detach the program.
  tc_steer_guard* guard = tc_steer_guard__open();
  int failed = guard == nullptr ? -errno : 0;
  if (failed == 0) failed = bpf_map__reuse_fd(guard->maps.eclb_l4_vips, program->l4_map);
  if (failed == 0) failed = bpf_map__reuse_fd(guard->maps.eclb_dp_addrs, program->address_map);
  if (failed == 0) failed = tc_steer_guard__load(guard);
  program->close_maps();
  bpf_tc_hook hook = ingress_hook(if_index);
  if (failed == 0) {
    const int created = bpf_tc_hook_create(&hook);
    if (created == 0) self.created_hook_ = true;
    else if (created != -EEXIST) failed = created;
  }
  if (failed == 0) {
    bpf_tc_opts attach{};
    attach.sz = sizeof attach;
    attach.handle = kGuardHandle;
    attach.priority = kGuardPriority;
    attach.prog_fd = bpf_program__fd(guard->progs.tc_steer_guard);
    failed = bpf_tc_attach(&hook, &attach);
  }
  if (failed != 0) {
    if (guard != nullptr) tc_steer_guard__destroy(guard);
    close(program_fd);
    return make_error("interface {}: cannot attach the takeover guard: {}", name, std::strerror(-failed));
  }
  self.guard_ = guard;
  bpf_xdp_attach_opts detach{};
  detach.sz = sizeof detach;
  detach.old_prog_fd = program_fd;
  const uint32_t mode = query.attach_mode == XDP_ATTACHED_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
  const int detached = bpf_xdp_detach(static_cast<int>(if_index), mode | XDP_FLAGS_REPLACE, &detach);
  close(program_fd);
  if (detached != 0) {
    return make_error("interface {}: cannot detach the previous run's steering program id {}: {}", name, program_id,
                      std::strerror(-detached));
  }
  log::info("dp.runtime", "interface={} taken over from the previous run: its steering program id={} detached, "
                          "its traffic held by the tc guard until this run steers", name, program_id);
  return self;
}

void AfXdpInterface::steering_ready() noexcept { remove_guard(); }

void AfXdpInterface::remove_guard() noexcept {
  if (guard_ == nullptr) return;
  bpf_tc_hook hook = ingress_hook(if_index_);
  bpf_tc_opts detach{};
  detach.sz = sizeof detach;
  detach.handle = kGuardHandle;
  detach.priority = kGuardPriority;
  if (const int rc = bpf_tc_detach(&hook, &detach); rc != 0) {
    log::warn("dp.runtime", "interface={} cannot remove the takeover guard: {}", name_, std::strerror(-rc));
  }
  if (created_hook_) {
    hook.attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);  // the clsact qdisc
    bpf_tc_hook_destroy(&hook);
    created_hook_ = false;
  }
  tc_steer_guard__destroy(guard_);
  guard_ = nullptr;
}

bool AfXdpInterface::hold(int program_fd) noexcept {
  if (program_fd < 0) return false;
  const int attached = bpf_xdp_attach(static_cast<int>(if_index_), program_fd, XDP_FLAGS_UPDATE_IF_NOEXIST, nullptr);
  if (attached != 0) {
    log::warn("dp.runtime", "interface={} not held for the next run: {}", name_, std::strerror(-attached));
    return false;
  }
  log::info("dp.runtime", "interface={} held for the next run: its steering program stays attached and drops the "
                          "dataplane's traffic until then (ip link set dev {} xdp off releases it)", name_, name_);
  return true;
}

}  // namespace eclb::dp
