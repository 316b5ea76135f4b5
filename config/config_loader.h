// Loading and validating eclb YAML configuration (yaml-cpp). Every error names the file,
// the line and the field ("eclb.yaml:12: vips[0].port: invalid port \"0\""); unknown
// keys are errors so a typo never silently becomes a default.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "config/config.h"

namespace eclb {

// Reads and validates `path`.
Result<Config> load_config_file(const std::string& path);
// Parses and validates YAML text; `source` names it in messages.
Result<Config> parse_config(std::string_view text, const std::string& source);

}  // namespace eclb
