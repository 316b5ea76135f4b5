// What this eclb host tells `eclbctl cluster` about itself, as JSON: per VIP its Maglev
// table digest, members up and whether its address is announced; the table generation
// and flow hash seed (two hosts route a flow alike only with both the same table and the
// same seed); the dataplane's heartbeat. Served at GET /state on the metrics listener
// (for the peers) and in the admin `cluster` answer (for the local eclbctl).
#pragma once

#include <nlohmann/json.hpp>

namespace eclb::ctl {

class ControlDaemon;

nlohmann::json host_state(ControlDaemon& daemon);

}  // namespace eclb::ctl
