// Announcer: carries out the announcement rules (announce_policy.h) through BIRD. On
// every evaluation (the daemon runs one every 100 ms, so a withdrawal reaches BIRD
// within a second of its cause) it decides per VIP address; when the announced set
// changes it rewrites the include file (two static protocols, eclb_vips4 and
// eclb_vips6, whose routes BIRD's config exports to the routers) atomically and asks
// BIRD to reconfigure, logging each change once with its reason. A push BIRD refuses is
// retried on the next evaluation; what BIRD announces is what the last successful push
// said. A restarted eclb-control adopts the addresses its include already lists: they
// stay announced while their VIPs can be served, without waiting for the health view
// to settle again (as it adopts the tables).
#pragma once

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "config/config.h"
#include "control/announce/announce_policy.h"
#include "control/announce/bird_client.h"

namespace eclb::ctl {

struct AddressState {
  AddressVerdict verdict;    // the latest evaluation
  bool announced = false;    // what BIRD was last told
  std::chrono::system_clock::time_point since;  // of `announced`
};

class Announcer {
 public:
  explicit Announcer(const AnnounceConfig& config);

  bool enabled() const noexcept { return !config_.bird_socket.empty(); }
  void configure(const AnnounceConfig& config);

  // Decides and pushes any change to BIRD. `inputs.withdrawn*`, `announced` and
  // `min_up`/`heartbeat_timeout_ms` are filled in here.
  void evaluate(AnnounceInputs inputs);

  // eclbctl withdraw / announce: VIP names, or every VIP ("").
  void withdraw(const std::string& vip);
  void announce(const std::string& vip);
  bool withdrawn_all() const noexcept { return withdrawn_all_; }
  const std::set<std::string>& withdrawn() const noexcept { return withdrawn_; }

  const std::vector<AddressState>& state() const noexcept { return state_; }
  const std::string& bird_error() const noexcept { return bird_error_; }  // the last push's, or empty
  const BirdClient& bird() const noexcept { return bird_; }

  // The include file for these addresses (exposed for the tests).
  static std::string render_include(const std::set<IpAddress>& announced);
  // The addresses an include file lists (a previous run's).
  static std::set<IpAddress> parse_include(const std::string& text);

 private:
  Result<void> push(const std::set<IpAddress>& announced);

  AnnounceConfig config_;
  BirdClient bird_;
  std::set<IpAddress> told_;          // what the include says and BIRD took
  bool pushed_once_ = false;
  std::vector<AddressState> state_;
  bool withdrawn_all_ = false;
  std::set<std::string> withdrawn_;
  std::string bird_error_;
};

}  // namespace eclb::ctl
