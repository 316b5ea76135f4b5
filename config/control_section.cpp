// The `control:` section: eclb-control's admin socket (and who may use it), metrics
// listener and publication grace.
#include "config/yaml_reader.h"

namespace eclb::yaml_config {

ControlConfig parse_control(const Reader& reader, const YAML::Node& node) {
  ControlConfig control;
  if (!node.IsDefined()) return control;
  reader.expect_map(node, "control");
  reader.check_keys(node, "control", {"admin_socket", "admin_group", "metrics", "grace_ms"});
  if (node["admin_socket"].IsDefined()) {
    control.admin_socket = reader.scalar(node["admin_socket"], "control.admin_socket");
    if (control.admin_socket.empty() || control.admin_socket.front() != '/' || control.admin_socket.size() > 100) {
      reader.fail(node["admin_socket"], "control.admin_socket", "must be an absolute path of at most 100 characters");
    }
  }
  if (node["admin_group"].IsDefined()) {
    // Resolved to a group id when the socket is made: the file may be checked elsewhere.
    control.admin_group = reader.scalar(node["admin_group"], "control.admin_group");
    if (control.admin_group.empty()) reader.fail(node["admin_group"], "control.admin_group", "must name a group");
  }
  if (node["metrics"].IsDefined()) {
    control.metrics_listen = reader.scalar(node["metrics"], "control.metrics");
    if (control.metrics_listen != "off") {
      auto endpoint = Endpoint::parse(control.metrics_listen);
      if (!endpoint) reader.fail(node["metrics"], "control.metrics", endpoint.error().message + " (or \"off\")");
    } else {
      control.metrics_listen.clear();
    }
  }
  control.grace_ms = static_cast<uint32_t>(reader.optional_unsigned(node, "grace_ms", "control", control.grace_ms, 10, 60000));
  return control;
}

}  // namespace eclb::yaml_config
