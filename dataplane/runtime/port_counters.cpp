// Copying the ports' own counters into the stats region (see port_counters.h).
#include "dataplane/runtime/port_counters.h"

#include <linux/if_packet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "common/shared_atomic.h"

namespace eclb::dp {
namespace {

// This process's packet sockets bound to interface `if_index`: the af_packet PMD's. A
// socket's inode links /proc/self/fd (socket:[inode]) to /proc/net/packet (its Iface).
std::vector<int> packet_sockets_on(unsigned if_index) {
  std::map<unsigned long, int> interface_of;  // inode -> ifindex
  std::ifstream table("/proc/net/packet");
  std::string line;
  std::getline(table, line);  // sk RefCnt Type Proto Iface R Rmem User Inode
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string sk, refs, type, proto;
    int iface = 0;
    std::string running, rmem, user;
    unsigned long inode = 0;
    if (fields >> sk >> refs >> type >> proto >> iface >> running >> rmem >> user >> inode) interface_of[inode] = iface;
  }
  std::vector<int> sockets;
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ignored)) {
    const std::string target = std::filesystem::read_symlink(entry.path(), ignored).string();
    unsigned long inode = 0;
    if (std::sscanf(target.c_str(), "socket:[%lu]", &inode) != 1) continue;
    const auto it = interface_of.find(inode);
    if (it != interface_of.end() && it->second == static_cast<int>(if_index)) {
      sockets.push_back(std::stoi(entry.path().filename().string()));
    }
  }
  return sockets;
}

}  // namespace

void PortCounters::add(uint16_t port_id, const std::string& driver, unsigned if_index, abi::PortStats& slot) {
  slot.port_id = port_id;
  std::strncpy(slot.driver, driver.c_str(), sizeof slot.driver - 1);
  // The names are fixed for the port's life: written once. Values follow in publish().
  const int count = rte_eth_xstats_get_names(port_id, nullptr, 0);
  uint32_t xstats = 0;
  if (count > 0) {
    std::vector<rte_eth_xstat_name> names(static_cast<size_t>(count));
    const int got = rte_eth_xstats_get_names(port_id, names.data(), static_cast<unsigned>(count));
    xstats = static_cast<uint32_t>(std::clamp(got, 0, static_cast<int>(abi::kMaxPortXstats)));
    for (uint32_t i = 0; i < xstats; ++i) {
      std::strncpy(slot.xstats[i].name, names[i].name, sizeof slot.xstats[i].name - 1);
    }
    values_.resize(std::max<size_t>(values_.size(), static_cast<size_t>(count)));
  }
  slot.xstat_count = xstats;
  Port port{port_id, &slot, xstats, {}, 0};
  if (driver == "net_af_packet" && if_index != 0) {
    port.packet_sockets = packet_sockets_on(if_index);
    for (int fd : port.packet_sockets) {  // start from zero: drops before this run are not ours
      tpacket_stats stats{};
      socklen_t length = sizeof stats;
      getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &stats, &length);
    }
  }
  ports_.push_back(std::move(port));
}

void PortCounters::publish() noexcept {
  for (Port& port : ports_) {
    abi::PortStats& slot = *port.slot;
    for (int fd : port.packet_sockets) {
      tpacket_stats kernel{};
      socklen_t length = sizeof kernel;
      if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &kernel, &length) == 0) port.socket_drops += kernel.tp_drops;
    }
    rte_eth_stats stats{};
    if (rte_eth_stats_get(port.port_id, &stats) == 0) {
      stats.imissed += port.socket_drops;
      store_relaxed(&slot.ipackets, stats.ipackets);
      store_relaxed(&slot.opackets, stats.opackets);
      store_relaxed(&slot.ibytes, stats.ibytes);
      store_relaxed(&slot.obytes, stats.obytes);
      store_relaxed(&slot.imissed, stats.imissed);
      store_relaxed(&slot.ierrors, stats.ierrors);
      store_relaxed(&slot.oerrors, stats.oerrors);
      store_relaxed(&slot.rx_nombuf, stats.rx_nombuf);
    }
    if (port.xstats == 0) continue;
    const int got = rte_eth_xstats_get(port.port_id, values_.data(), static_cast<unsigned>(values_.size()));
    if (got <= 0 || static_cast<size_t>(got) > values_.size()) continue;
    for (int i = 0; i < got; ++i) {
      if (values_[i].id < port.xstats) store_relaxed(&slot.xstats[values_[i].id].value, values_[i].value);
    }
  }
}

}  // namespace eclb::dp
