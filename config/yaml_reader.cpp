// Helpers of the YAML reader shared by the section parsers (see yaml_reader.h).
#include "config/yaml_reader.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace eclb::yaml_config {

void check_name(const Reader& reader, const YAML::Node& at, std::string_view field, const std::string& name,
                size_t max_bytes) {
  if (name.empty() || name.size() > max_bytes) {
    reader.fail(at, field, fmt::format("name must be 1-{} characters", max_bytes));
  }
  for (const char c : name) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':' ||
                    c == '[' || c == ']';
    if (!ok) reader.fail(at, field, fmt::format("name \"{}\" may only hold letters, digits and -_.:[]", name));
  }
}

bool boolean(const Reader& reader, const YAML::Node& node, const std::string& field) {
  const std::string text = reader.scalar(node, field);
  if (text != "true" && text != "false") reader.fail(node, field, "expected true or false");
  return text == "true";
}

std::string readable_file(const Reader& reader, const YAML::Node& parent, const char* key, const std::string& field) {
  const std::string path = reader.required_string(parent, key, field);
  if (std::ifstream(path).fail()) {
    reader.fail(parent[key], field + "." + key, fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  }
  return path;
}

}  // namespace eclb::yaml_config
