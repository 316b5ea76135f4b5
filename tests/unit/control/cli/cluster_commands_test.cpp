// The cluster view's comparison: which hosts route differently, from their states.
#include "control/cli/cluster_commands.h"

#include <gtest/gtest.h>

namespace eclb::ctl::cli {
namespace {

using nlohmann::json;

json host(const std::string& name, const std::string& digest, const std::string& seed = "0x1") {
  return {{"name", name},
          {"address", "10.0.0.1:9469"},
          {"state", {{"host", name}, {"generation", 3}, {"flow_hash_seed", seed}, {"dataplane", nullptr},
                     {"vips", json::array({{{"name", "web"}, {"digest", digest}, {"members", 3}, {"up", 3}}})}}}};
}

TEST(ClusterCommandsTest, AgreeingHostsHaveNoDifferences) {
  const json hosts = json::array({host("lb1", "sha256:aa"), host("lb2", "sha256:aa"), host("lb3", "sha256:aa")});
  EXPECT_TRUE(cluster_differences(hosts).empty());
  EXPECT_NE(render_cluster(hosts, false).find("every host that answered routes alike"), std::string::npos);
}

TEST(ClusterCommandsTest, TheOddTableAndSeedAreFlaggedAndUnreachablePeersSkipped) {
  json hosts = json::array({host("lb1", "sha256:aa"), host("lb2", "sha256:aa"), host("lb3", "sha256:bb", "0x2"),
                            {{"name", "lb4"}, {"address", "10.0.0.4:9469"}, {"error", "timed out"}}});
  const auto differences = cluster_differences(hosts);
  ASSERT_EQ(differences.size(), 2u);
  EXPECT_EQ(differences[0], "flow_hash_seed differs: lb1,lb2 0x1 lb3 0x2 (odd one out)");
  EXPECT_EQ(differences[1], "vip web table differs: lb1,lb2 sha256:aa lb3 sha256:bb (odd one out)");
  const std::string text = render_cluster(hosts, false);
  EXPECT_NE(text.find("unreachable: timed out"), std::string::npos) << text;
  EXPECT_NE(text.find("DIFFERS: vip web table differs"), std::string::npos);
  hosts[2]["state"]["vips"] = json::array();
  EXPECT_EQ(cluster_differences(hosts)[1], "vip web table differs: lb3 (no such VIP) (odd one out) lb1,lb2 sha256:aa")
      << "a VIP one host lacks";
}

}  // namespace
}  // namespace eclb::ctl::cli
