// AdminHandler: the admin socket's requests (abi/admin_protocol.h) against a running
// ControlDaemon: reload, status, health, drain, undrain, weight. One JSON object in, one
// out; errors are answers ({"ok": false, "error": ...}), never exceptions. Runs on the
// daemon's loop thread.
#pragma once

#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/ip_address.h"
#include "common/result.h"

namespace eclb::ctl {

class ControlDaemon;

class AdminHandler {
 public:
  explicit AdminHandler(ControlDaemon& daemon) : daemon_(daemon) {}
  nlohmann::json handle(const nlohmann::json& request);

 private:
  // The (pool, endpoint) of a backend named by name or ADDRESS:PORT, in `pool` if given.
  Result<std::pair<std::string, Endpoint>> find_backend(const std::string& selector, const std::string& pool) const;
  nlohmann::json l7_status() const;
  nlohmann::json announce_command(const std::string& command, const nlohmann::json& request);
  nlohmann::json announcements() const;

  ControlDaemon& daemon_;
};

}  // namespace eclb::ctl
