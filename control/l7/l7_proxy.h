// L7Proxy: eclb-control's TLS-offload and HTTP/WebSocket proxy for the VIPs of mode
// `l7` (the nginx image's job). It runs on its own threads (l7.threads, one per CPU by
// default), each with its own EventLoop accepting from every listener, so TLS handshakes
// and relaying never delay health checks or table publication and use every core. It
// talks to eclb-control's thread through three hand-offs, each a shared_ptr swapped
// under a mutex (never held while doing work; for the tables every request reads, taken
// only when a new publication came):
//   - configure(): listeners and certificates, built on the caller's thread so that a
//     bind or certificate error fails start or reload with the old set still serving;
//   - set_tables(): every publication's TableContent (the routing input);
//   - counters(): per-VIP counters for metrics;
//   - take_connect_failures(): the gateways that refused a connection (passive health),
//     announced on failure_fd().
// Connections already open keep the listener (and certificate store) they came in on,
// so reloading certificates or the config drops none.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "config/config.h"
#include "control/core/table_content.h"
#include "control/l7/l7_counters.h"
#include "control/l7/l7_listener.h"

namespace eclb::ctl {

class L7Proxy {
 public:
  // `threads` event loops; 0: one per CPU this process may run on.
  static Result<std::unique_ptr<L7Proxy>> start(uint32_t threads);
  ~L7Proxy();  // stops the threads and closes every connection
  L7Proxy(const L7Proxy&) = delete;
  L7Proxy& operator=(const L7Proxy&) = delete;

  // Listeners of every l7 VIP of `config` (sockets kept where the address stays) and
  // fresh certificate stores. On error nothing changes.
  Result<void> configure(const Config& config);
  void set_tables(std::shared_ptr<const TableContent> tables);
  // Counters of each configured VIP, by VIP name.
  std::map<std::string, std::shared_ptr<const L7Counters>> counters() const;
  // A gateway that refused (or did not accept in time) a connection of a VIP.
  struct ConnectFailure {
    std::string vip;
    Endpoint gateway;
  };
  // Readable (an eventfd) while connect failures wait to be taken; for the caller's loop.
  int failure_fd() const noexcept;
  std::vector<ConnectFailure> take_connect_failures();
  // Listening endpoints, for logs: "vip=... listen=... tls=...".
  std::vector<std::string> describe() const;
  // Whether VIP `vip_name` has its (main, not redirect) listener open.
  bool listening(const std::string& vip_name) const;
  size_t threads() const noexcept;

 private:
  struct Shared;
  class Thread;
  L7Proxy();
  void wake_all() const;

  std::shared_ptr<Shared> shared_;
  std::vector<std::unique_ptr<Thread>> threads_;
};

}  // namespace eclb::ctl
