// YAML -> Config with strict validation: the top level and the checks across sections
// (duplicate VIPs, capacities). Exceptions stay inside config/: yaml-cpp throws, and so
// does the Reader; parse_config turns both into a Result.
#include "config/config_loader.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include "config/yaml_reader.h"

namespace eclb {
namespace {

using yaml_config::ConfigError;
using yaml_config::Reader;

Config parse_root(const Reader& reader, const YAML::Node& root, const std::string& source) {
  Config config;
  config.source = source;
  if (root.IsNull() || !root.IsDefined()) reader.fail(root, "(top level)", "empty configuration");
  reader.expect_map(root, "(top level)");
  reader.check_keys(root, "", {"tables", "control", "pools", "vips", "dataplane", "l7", "announce", "cluster"});
  config.tables = yaml_config::parse_tables(reader, root["tables"]);
  config.control = yaml_config::parse_control(reader, root["control"]);
  config.dataplane = yaml_config::parse_dataplane(reader, root["dataplane"]);
  config.pools = yaml_config::parse_pools(reader, root["pools"]);
  config.l7 = yaml_config::parse_l7(reader, root["l7"]);
  config.announce = yaml_config::parse_announce(reader, root["announce"]);
  config.cluster = yaml_config::parse_cluster(reader, root["cluster"]);
  const YAML::Node vips = root["vips"];
  if (vips.IsDefined()) {
    reader.expect_sequence(vips, "vips");
    std::set<std::string> names;
    std::set<std::tuple<Endpoint, abi::L4Protocol>> keys;
    uint64_t slots = 0;
    uint64_t members = 0;
    for (size_t i = 0; i < vips.size(); ++i) {
      const std::string field = fmt::format("vips[{}]", i);
      VipConfig vip = yaml_config::parse_vip(reader, vips[i], field, config.pools);
      if (!names.insert(vip.name).second) {
        reader.fail(vips[i]["name"], field + ".name", fmt::format("duplicate VIP name \"{}\"", vip.name));
      }
      if (!keys.emplace(vip.endpoint, vip.protocol).second) {
        reader.fail(vips[i], field,
                    fmt::format("duplicate VIP {} {}", to_string(vip.protocol), vip.endpoint.to_string()));
      }
      slots += vip.table_size;
      members += config.find_pool(vip.pool)->backends.size();
      config.vips.push_back(std::move(vip));
    }
    const auto& capacity = config.tables.capacity;
    if (config.vips.size() > capacity.max_vips) {
      reader.fail(vips, "vips", fmt::format("{} VIPs exceed tables.max_vips {}", config.vips.size(), capacity.max_vips));
    }
    if (members > capacity.max_backends) {
      reader.fail(vips, "vips",
                  fmt::format("{} VIP members exceed tables.max_backends {}", members, capacity.max_backends));
    }
    if (slots > capacity.max_table_slots) {
      reader.fail(vips, "vips",
                  fmt::format("{} table slots exceed tables.max_table_slots {}", slots, capacity.max_table_slots));
    }
  }
  return config;
}

}  // namespace

Result<Config> parse_config(std::string_view text, const std::string& source) {
  Reader reader(source);
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    return parse_root(reader, root, source);
  } catch (const ConfigError& error) {
    return Error{error.what()};
  } catch (const YAML::ParserException& error) {
    return make_error("{}:{}: YAML syntax error: {}", source, error.mark.line + 1, error.msg);
  } catch (const YAML::Exception& error) {
    return make_error("{}:{}: {}", source, error.mark.line + 1, error.msg);
  }
}

Result<Config> load_config_file(const std::string& path) {
  std::ifstream file(path);
  if (!file) return make_error("cannot read config {}: {}", path, std::strerror(errno));
  std::stringstream buffer;
  buffer << file.rdbuf();
  return parse_config(buffer.str(), path);
}

}  // namespace eclb
