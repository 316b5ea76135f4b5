// The `l7:` section: limits of the L7 proxy, for all its VIPs.
#include "config/yaml_reader.h"

namespace eclb::yaml_config {

L7Config parse_l7(const Reader& reader, const YAML::Node& node) {
  L7Config l7;
  if (!node.IsDefined()) return l7;
  reader.expect_map(node, "l7");
  reader.check_keys(node, "l7",
                    {"idle_timeout_s", "handshake_timeout_ms", "connect_timeout_ms", "max_header_bytes", "max_connections",
                     "threads"});
  l7.idle_timeout_s = static_cast<uint32_t>(reader.optional_unsigned(node, "idle_timeout_s", "l7", l7.idle_timeout_s, 1, 30 * 86400));
  l7.handshake_timeout_ms = static_cast<uint32_t>(
      reader.optional_unsigned(node, "handshake_timeout_ms", "l7", l7.handshake_timeout_ms, 100, 600000));
  l7.connect_timeout_ms = static_cast<uint32_t>(
      reader.optional_unsigned(node, "connect_timeout_ms", "l7", l7.connect_timeout_ms, 100, 600000));
  l7.max_header_bytes = static_cast<uint32_t>(
      reader.optional_unsigned(node, "max_header_bytes", "l7", l7.max_header_bytes, 1024, 1u << 20));
  l7.max_connections = static_cast<uint32_t>(
      reader.optional_unsigned(node, "max_connections", "l7", l7.max_connections, 1, 1000000));
  l7.threads = static_cast<uint32_t>(reader.optional_unsigned(node, "threads", "l7", l7.threads, 0, 256));
  return l7;
}

}  // namespace eclb::yaml_config
