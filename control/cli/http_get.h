// A blocking HTTP/1.0 GET with one deadline for connect, request and answer: eclbctl
// asks its peers' eclb-control for /state, and a peer that is down or stuck must cost
// no more than the timeout.
#pragma once

#include <chrono>
#include <string>

#include "common/ip_address.h"
#include "common/result.h"

namespace eclb::ctl::cli {

// The body of a 200 answer to GET `path` from `server`.
Result<std::string> http_get(const Endpoint& server, const std::string& path, std::chrono::milliseconds timeout);

}  // namespace eclb::ctl::cli
