// AdminClient: eclbctl's side of eclb-control's admin socket — one JSON request, one
// JSON answer per connection — and the rendering of the answers.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace eclb::ctl::cli {

Result<nlohmann::json> admin_request(const std::string& socket_path, const nlohmann::json& request);

// "30s", "2m", "500ms", "1h" -> milliseconds.
Result<uint64_t> parse_duration_ms(const std::string& text);

std::string render_health(const nlohmann::json& answer, bool json);

}  // namespace eclb::ctl::cli
