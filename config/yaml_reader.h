// The YAML side of the config loader: a Reader over yaml-cpp nodes whose every failure
// names the file, the line and the field ("eclb.yaml:12: vips[0].port: 0 is out of range
// 1-65535"), and the section parsers built on it (one file per top-level section). Used
// only inside config/: yaml-cpp and the exceptions stay here; config_loader.h is the
// interface.
#pragma once

#include <yaml-cpp/yaml.h>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace eclb::yaml_config {

// Thrown by Reader::fail; parse_config turns it into the Result's error.
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Reader {
 public:
  explicit Reader(const std::string& source) : source_(source) {}

  [[noreturn]] void fail(const YAML::Node& at, std::string_view field, std::string_view message) const {
    const int line = at.IsDefined() && at.Mark().line >= 0 ? at.Mark().line + 1 : 0;
    throw ConfigError(fmt::format("{}:{}: {}: {}", source_, line, field, message));
  }

  void expect_map(const YAML::Node& node, std::string_view field) const {
    if (!node.IsMap()) fail(node, field, "expected a mapping");
  }

  void expect_sequence(const YAML::Node& node, std::string_view field) const {
    if (!node.IsSequence()) fail(node, field, "expected a list");
  }

  // Every key of `node` must be in `allowed`.
  void check_keys(const YAML::Node& node, std::string_view field, std::initializer_list<std::string_view> allowed) const {
    for (const auto& entry : node) {
      const std::string key = entry.first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string list;
        for (const auto name : allowed) list += fmt::format("{}{}", list.empty() ? "" : ", ", name);
        fail(entry.first, join(field, key), fmt::format("unknown key (allowed: {})", list));
      }
    }
  }

  std::string scalar(const YAML::Node& node, std::string_view field) const {
    if (!node.IsScalar()) fail(node, field, "expected a scalar value");
    return node.Scalar();
  }

  std::string required_string(const YAML::Node& parent, const char* key, std::string_view field) const {
    const YAML::Node node = parent[key];
    if (!node.IsDefined() || node.IsNull()) fail(parent, join(field, key), "missing");
    return scalar(node, join(field, key));
  }

  uint64_t unsigned_value(const YAML::Node& node, std::string_view field, uint64_t min, uint64_t max) const {
    const std::string text = scalar(node, field);
    uint64_t value = 0;
    const int base = text.starts_with("0x") ? 16 : 10;
    const char* begin = text.data() + (base == 16 ? 2 : 0);
    const auto [end, ec] = std::from_chars(begin, text.data() + text.size(), value, base);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
      fail(node, field, fmt::format("expected a non-negative integer, got \"{}\"", text));
    }
    if (value < min || value > max) fail(node, field, fmt::format("{} is out of range {}-{}", value, min, max));
    return value;
  }

  uint64_t optional_unsigned(const YAML::Node& parent, const char* key, std::string_view field, uint64_t fallback,
                             uint64_t min, uint64_t max) const {
    const YAML::Node node = parent[key];
    if (!node.IsDefined()) return fallback;
    return unsigned_value(node, join(field, key), min, max);
  }

  static std::string join(std::string_view field, std::string_view key) {
    return field.empty() ? std::string(key) : fmt::format("{}.{}", field, key);
  }

 private:
  const std::string& source_;
};

// Names of VIPs, pools and backends: 1-max_bytes characters of letters, digits, -_.:[].
void check_name(const Reader& reader, const YAML::Node& at, std::string_view field, const std::string& name,
                size_t max_bytes);
bool boolean(const Reader& reader, const YAML::Node& node, const std::string& field);
// parent[key]: a path that can be opened for reading now.
std::string readable_file(const Reader& reader, const YAML::Node& parent, const char* key, const std::string& field);

// One parser per top-level section; each returns the defaults for an absent node.
TablesConfig parse_tables(const Reader& reader, const YAML::Node& node);               // tables_section.cpp
ControlConfig parse_control(const Reader& reader, const YAML::Node& node);             // control_section.cpp
DataplaneConfig parse_dataplane(const Reader& reader, const YAML::Node& node);         // dataplane_section.cpp
std::vector<PoolConfig> parse_pools(const Reader& reader, const YAML::Node& node);     // pools_section.cpp
L7Config parse_l7(const Reader& reader, const YAML::Node& node);                       // l7_section.cpp
AnnounceConfig parse_announce(const Reader& reader, const YAML::Node& node);           // announce_section.cpp
ClusterConfig parse_cluster(const Reader& reader, const YAML::Node& node);             // cluster_section.cpp
// One entry of `vips:`; its pool must be among `pools`.                                  vips_section.cpp
VipConfig parse_vip(const Reader& reader, const YAML::Node& node, const std::string& field,
                    const std::vector<PoolConfig>& pools);

}  // namespace eclb::yaml_config
