// L7Router: which gateway an L7 request goes to, from the tables eclb-control last
// published (the same VipContent the dataplane's region holds, so `eclbctl which VIP
// CLIENT:PORT` answers for L7 VIPs too).
//   - Pinned: "X-Server-Select: NAME" (a member name such as vm2, or its ip:port), else a
//     path whose first segment is a member name ("/vm2/agent" -> "/agent"). A pin reaches
//     exactly that gateway, or fails: 502 for a name the VIP does not have, 503 when that
//     gateway is down or drained. Never another gateway.
//   - Otherwise the VIP's Maglev table at flow_hash(client, VIP, TCP) % size, among
//     healthy undrained gateways; 503 when there is none.
#pragma once

#include <memory>
#include <string>

#include "common/ip_address.h"
#include "control/core/table_content.h"
#include "control/l7/http_head.h"

namespace eclb::ctl {

struct RouteDecision {
  int status = 0;             // 0: go to `backend`; else the HTTP error to answer
  std::string error;          // the error's text, for the response body
  std::string backend_name;
  Endpoint backend;
  bool pinned = false;
  std::string target;         // the request target to send (pin prefix stripped)
};

RouteDecision route_request(const TableContent* tables, const std::string& vip_name, const Endpoint& client,
                            const Endpoint& vip, const RequestHead& head);

}  // namespace eclb::ctl
