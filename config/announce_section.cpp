// The `announce:` section: what this host tells its routers through BIRD.
#include "config/yaml_reader.h"

namespace eclb::yaml_config {
namespace {

std::string absolute_path(const Reader& reader, const YAML::Node& node, const std::string& field, size_t max_bytes) {
  std::string path = reader.scalar(node, field);
  if (path.empty() || path.front() != '/' || path.size() > max_bytes) {
    reader.fail(node, field, fmt::format("must be an absolute path of at most {} characters", max_bytes));
  }
  return path;
}

}  // namespace

AnnounceConfig parse_announce(const Reader& reader, const YAML::Node& node) {
  AnnounceConfig announce;
  if (!node.IsDefined()) return announce;
  reader.expect_map(node, "announce");
  reader.check_keys(node, "announce", {"bird_socket", "include", "min_up", "heartbeat_timeout_ms", "peer_check"});
  // 107: sockaddr_un's path, with its terminating zero.
  if (node["bird_socket"].IsDefined()) announce.bird_socket = absolute_path(reader, node["bird_socket"], "announce.bird_socket", 107);
  if (node["include"].IsDefined()) announce.include_path = absolute_path(reader, node["include"], "announce.include", 4000);
  announce.min_up = static_cast<uint32_t>(reader.optional_unsigned(node, "min_up", "announce", announce.min_up, 1, 100000));
  announce.heartbeat_timeout_ms = static_cast<uint32_t>(
      reader.optional_unsigned(node, "heartbeat_timeout_ms", "announce", announce.heartbeat_timeout_ms, 200, 60000));
  if (node["peer_check"].IsDefined()) announce.peer_check = boolean(reader, node["peer_check"], "announce.peer_check");
  if (announce.bird_socket.empty() && node["include"].IsDefined()) {
    reader.fail(node["include"], "announce.include", "set announce.bird_socket too: BIRD must be told to re-read it");
  }
  return announce;
}

}  // namespace eclb::yaml_config
