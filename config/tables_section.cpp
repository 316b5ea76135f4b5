// The `tables:` section: the table region's path, capacities and the flow hash seed.
#include "config/yaml_reader.h"

namespace eclb::yaml_config {

TablesConfig parse_tables(const Reader& reader, const YAML::Node& node) {
  TablesConfig tables;
  if (!node.IsDefined()) return tables;
  reader.expect_map(node, "tables");
  reader.check_keys(node, "tables",
                    {"segment", "max_vips", "max_backends", "max_table_slots", "max_readers", "flow_hash_seed"});
  if (node["segment"].IsDefined()) {
    tables.segment = reader.scalar(node["segment"], "tables.segment");
    if (tables.segment.empty() || tables.segment.front() != '/') {
      reader.fail(node["segment"], "tables.segment", "must be an absolute path");
    }
  }
  auto& capacity = tables.capacity;
  capacity.max_vips = static_cast<uint32_t>(
      reader.optional_unsigned(node, "max_vips", "tables", capacity.max_vips, 1, kMaxVipsLimit));
  capacity.max_backends = static_cast<uint32_t>(
      reader.optional_unsigned(node, "max_backends", "tables", capacity.max_backends, 1, kMaxBackendsLimit));
  capacity.max_readers = static_cast<uint32_t>(
      reader.optional_unsigned(node, "max_readers", "tables", capacity.max_readers, 1, kMaxReadersLimit));
  capacity.max_table_slots =
      reader.optional_unsigned(node, "max_table_slots", "tables", capacity.max_table_slots, 2, 1ull << 32);
  tables.flow_hash_seed =
      reader.optional_unsigned(node, "flow_hash_seed", "tables", tables.flow_hash_seed, 0, UINT64_MAX);
  return tables;
}

}  // namespace eclb::yaml_config
