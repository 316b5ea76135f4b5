// L7Router: which gateway an L7 request goes to, from the tables eclb-control last
// published (the same VipContent the dataplane's region holds, so `eclbctl which VIP
// CLIENT:PORT` answers for L7 VIPs too).
// As the nginx image routes (its nginx is the reference, nginx_parity checks it):
//   - The path is normalised first (RFC 3986: percent-encoded unreserved characters
//     decoded, "." and ".." segments resolved, repeated slashes merged, as nginx does
//     before it matches locations).
//   - Pinned by path: a first segment that is a member name, or looks like one ("vmN"):
//     "/vm2/agent" -> vm2 "/agent"; exactly "/vm2" (with or without a query) -> 301 to
//     "/vm2/". A path pin wins over the header.
//   - Pinned by "X-Server-Select: NAME" (a member name, trimmed and without regard to
//     case, or its ip:port).
//   - A pin reaches exactly that gateway, or fails: 502 for a name the VIP does not have
//     (eclb refuses where the image would route by the path alone: documented), 503 when
//     that gateway is down or drained. Never another gateway.
//   - Otherwise the VIP's Maglev table at flow_hash(client, VIP, TCP) % size, among
//     healthy undrained gateways; 503 when there is none. A gateway that refuses the
//     connection is followed by the next distinct one of the Maglev order (next_gateway).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip_address.h"
#include "control/core/table_content.h"
#include "control/l7/http_head.h"

namespace eclb::ctl {

struct RouteDecision {
  int status = 0;             // 0: go to `backend`; else the HTTP status to answer
  std::string error;          // the error's text, for the response body
  std::string location;       // status 301: where to
  std::string backend_name;
  Endpoint backend;
  bool pinned = false;
  std::string target;         // the request target to send (pin prefix stripped)
  uint32_t slot = 0;          // unpinned: the Maglev slot the choice came from
};

RouteDecision route_request(const TableContent* tables, const std::string& vip_name, const Endpoint& client,
                            const Endpoint& vip, const RequestHead& head);

// The next gateway in the VIP's Maglev order after `decision`'s: walking the slots from
// the one after decision.slot, the first up member not in `tried`. Updates `decision`;
// false when there is none. Deterministic: every retry of a flow goes to the same place.
bool next_gateway(const TableContent* tables, const std::string& vip_name, RouteDecision& decision,
                  const std::vector<Endpoint>& tried);

// RFC 3986 §5.2.4 dot segments removed, repeated slashes merged and percent-encoded
// unreserved characters decoded, in the path part of `target` (the query is kept as is).
std::string normalize_target(std::string_view target);

}  // namespace eclb::ctl
