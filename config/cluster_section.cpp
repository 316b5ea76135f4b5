// The `cluster:` section: the other hosts of a tier, which `eclbctl cluster` compares
// this one with (each peer's metrics listener, where eclb-control serves /state).
#include <set>

#include "config/yaml_reader.h"

namespace eclb::yaml_config {

ClusterConfig parse_cluster(const Reader& reader, const YAML::Node& node) {
  ClusterConfig cluster;
  if (!node.IsDefined()) return cluster;
  reader.expect_map(node, "cluster");
  reader.check_keys(node, "cluster", {"name", "peers", "timeout_ms"});
  if (node["name"].IsDefined()) {
    cluster.name = reader.scalar(node["name"], "cluster.name");
    check_name(reader, node["name"], "cluster.name", cluster.name, 64);
  }
  cluster.timeout_ms =
      static_cast<uint32_t>(reader.optional_unsigned(node, "timeout_ms", "cluster", cluster.timeout_ms, 50, 10000));
  const YAML::Node peers = node["peers"];
  if (!peers.IsDefined()) return cluster;
  reader.expect_sequence(peers, "cluster.peers");
  std::set<std::string> names{cluster.name};
  for (size_t i = 0; i < peers.size(); ++i) {
    const std::string field = fmt::format("cluster.peers[{}]", i);
    reader.expect_map(peers[i], field);
    reader.check_keys(peers[i], field, {"name", "address"});
    ClusterPeerConfig peer;
    peer.name = reader.required_string(peers[i], "name", field);
    check_name(reader, peers[i]["name"], field + ".name", peer.name, 64);
    auto endpoint = Endpoint::parse(reader.required_string(peers[i], "address", field));
    if (!endpoint) {
      reader.fail(peers[i]["address"], field + ".address", endpoint.error().message + " (the peer's metrics listener)");
    }
    peer.address = *endpoint;
    if (!names.insert(peer.name).second) {
      reader.fail(peers[i]["name"], field + ".name", fmt::format("\"{}\" is named twice", peer.name));
    }
    cluster.peers.push_back(std::move(peer));
  }
  return cluster;
}

}  // namespace eclb::yaml_config
