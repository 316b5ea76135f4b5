// L7Listener: one listening socket of an L7 VIP: the VIP itself (TLS or plain proxy) or
// its redirect port (plain HTTP answered with 301 to https://). Built by eclb-control's
// thread from the config (so bind errors reach --check, start and reload), then handed
// to the proxy threads. Immutable once built. Sessions keep a copy without the socket:
// the socket lives only as long as the proxy listens on it.
#pragma once

#include <unistd.h>

#include <memory>
#include <string>

#include "common/ip_address.h"
#include "common/result.h"
#include "common/owned_fd.h"
#include "config/config.h"
#include "control/l7/l7_counters.h"
#include "control/l7/tls_store.h"

namespace eclb::ctl {

struct L7Listener {
  enum class Kind { kProxy, kRedirect };
  Kind kind = Kind::kProxy;
  std::string vip_name;
  Endpoint vip;     // the VIP (the routing key's destination)
  Endpoint listen;  // the bound address: the VIP, or the VIP address at the redirect port
  L7VipConfig settings;
  std::shared_ptr<const TlsStore> tls;      // kProxy with certificates, else null
  std::shared_ptr<L7Counters> counters;     // the VIP's, shared by its listeners and kept over reloads
  std::shared_ptr<OwnedFd> socket;     // null in the copy sessions keep
};

// A non-blocking listening TCP socket on `endpoint` (SO_REUSEADDR; IPV6_V6ONLY for v6).
Result<std::shared_ptr<OwnedFd>> listen_tcp_socket(const Endpoint& endpoint, int backlog);

}  // namespace eclb::ctl
