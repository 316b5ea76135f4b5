// eclbctl announcements: what this host announces to its routers and why, as
// eclb-control's admin socket answers it (the `announcements` command), with BIRD's own
// view of its BGP and BFD sessions.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace eclb::ctl::cli {

std::string render_announcements(const nlohmann::json& answer, bool json);

}  // namespace eclb::ctl::cli
