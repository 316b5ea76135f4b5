// Finding and filling the steering program's maps (see xdp_steering.h).
#include "dataplane/runtime/xdp_steering.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "bpf/include/xdp_steer_maps.h"

namespace eclb::dp {
namespace {

template <typename T>
std::string bytes_of(const T& value) {
  return std::string(reinterpret_cast<const char*>(&value), sizeof value);
}

eclb_steer_address_key address_key(const uint8_t (&address)[16], abi::AddressFamily family) {
  eclb_steer_address_key key{};
  std::memcpy(key.address, address, 16);
  key.family = static_cast<uint8_t>(family);
  return key;
}

// Writes `wanted` into the map, removing what `current` has beyond it.
Result<void> apply(int fd, std::map<std::string, std::string>& current, const std::map<std::string, std::string>& wanted,
                   const char* name) {
  for (const auto& [key, value] : current) {
    if (!wanted.contains(key) && bpf_map_delete_elem(fd, key.data()) != 0 && errno != ENOENT) {
      return make_error("steering map {}: delete: {}", name, std::strerror(errno));
    }
  }
  for (const auto& [key, value] : wanted) {
    const auto it = current.find(key);
    if (it != current.end() && it->second == value) continue;
    if (bpf_map_update_elem(fd, key.data(), value.data(), BPF_ANY) != 0) {
      return make_error("steering map {}: update: {} (more than its 4096 entries?)", name, std::strerror(errno));
    }
  }
  current = wanted;
  return success();
}

}  // namespace

void XdpProgramInfo::close_maps() noexcept {
  if (l4_map >= 0) close(l4_map);
  if (address_map >= 0) close(address_map);
  l4_map = address_map = -1;
}

Result<XdpProgramInfo> inspect_xdp_program(int program_fd) {
  uint32_t map_ids[16] = {};
  bpf_prog_info info{};
  info.nr_map_ids = 16;
  info.map_ids = reinterpret_cast<uint64_t>(map_ids);
  uint32_t length = sizeof info;
  if (bpf_obj_get_info_by_fd(program_fd, &info, &length) != 0) return make_error("info: {}", std::strerror(errno));
  XdpProgramInfo program;
  program.name = info.name;
  for (uint32_t i = 0; i < std::min<uint32_t>(info.nr_map_ids, 16); ++i) {
    const int map = bpf_map_get_fd_by_id(map_ids[i]);
    if (map < 0) continue;
    bpf_map_info map_info{};
    uint32_t map_length = sizeof map_info;
    if (bpf_obj_get_info_by_fd(map, &map_info, &map_length) == 0) {
      if (std::strcmp(map_info.name, ECLB_STEER_L4_MAP) == 0 && program.l4_map < 0) {
        program.l4_map = map;
        continue;
      }
      if (std::strcmp(map_info.name, ECLB_STEER_ADDRESS_MAP) == 0 && program.address_map < 0) {
        program.address_map = map;
        continue;
      }
    }
    close(map);
  }
  return program;
}

Result<std::optional<XdpSteering>> XdpSteering::find(unsigned if_index, std::vector<IpAddress> local_addresses) {
  uint32_t program_id = 0;
  if (bpf_xdp_query_id(static_cast<int>(if_index), 0, &program_id) != 0 || program_id == 0) {
    return std::optional<XdpSteering>();
  }
  const int program = bpf_prog_get_fd_by_id(program_id);
  if (program < 0) return make_error("XDP program {}: {}", program_id, std::strerror(errno));
  auto inspected = inspect_xdp_program(program);
  if (!inspected) {
    close(program);
    return make_error("XDP program {}: {}", program_id, inspected.error().message);
  }
  if (!inspected->steering()) {
    inspected->close_maps();
    close(program);
    return std::optional<XdpSteering>();
  }
  return std::optional<XdpSteering>(
      XdpSteering(program, inspected->l4_map, inspected->address_map, std::move(local_addresses)));
}

XdpSteering::XdpSteering(XdpSteering&& other) noexcept
    : program_fd_(std::exchange(other.program_fd_, -1)),
      l4_fd_(std::exchange(other.l4_fd_, -1)),
      address_fd_(std::exchange(other.address_fd_, -1)),
      local_addresses_(std::move(other.local_addresses_)),
      l4_(std::move(other.l4_)),
      addresses_(std::move(other.addresses_)) {}

XdpSteering::~XdpSteering() {
  if (program_fd_ >= 0) close(program_fd_);
  if (l4_fd_ >= 0) close(l4_fd_);
  if (address_fd_ >= 0) close(address_fd_);
}

Result<void> XdpSteering::sync(const TableView& table) {
  std::map<std::string, std::string> l4, addresses;
  const uint32_t local = ECLB_STEER_ADDRESS_LOCAL;
  const uint32_t vip_flag = ECLB_STEER_ADDRESS_VIP;
  for (const IpAddress& address : local_addresses_) {
    uint8_t bytes[16];
    std::memcpy(bytes, address.bytes.data(), 16);
    addresses[bytes_of(address_key(bytes, address.family))] = bytes_of(local);
  }
  if (!table.empty()) {
    for (const abi::VipEntry& vip : table.vips()) {
      if (vip.mode == abi::ForwardMode::kL7Proxy) continue;  // eclb-control's, through the kernel
      eclb_steer_l4_key key{};
      std::memcpy(key.address, vip.address, 16);
      key.port_be = htons(vip.port);
      key.family = static_cast<uint8_t>(vip.family);
      key.protocol = static_cast<uint8_t>(vip.protocol);
      l4[bytes_of(key)] = bytes_of(vip.id);
      const std::string address = bytes_of(address_key(vip.address, vip.family));
      if (!addresses.contains(address)) addresses[address] = bytes_of(vip_flag);
    }
  }
  if (auto done = apply(l4_fd_, l4_, l4, ECLB_STEER_L4_MAP); !done) return done;
  return apply(address_fd_, addresses_, addresses, ECLB_STEER_ADDRESS_MAP);
}

}  // namespace eclb::dp
