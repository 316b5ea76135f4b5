// ControlDaemon: eclb-control's main loop as far as it exists today — load the config,
// plan and publish the tables, re-publish on SIGHUP (a bad new config is rejected and the
// running tables stay), exit on SIGINT/SIGTERM. Health checks, the admin socket and
// metrics are not part of it yet.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "control/core/config.h"
#include "control/publish/table_writer.h"

namespace eclb::ctl {

class ControlDaemon {
 public:
  struct Options {
    std::string config_path;
    std::string segment_override;  // replaces tables.segment when set
  };

  // Loads the config and opens (or adopts) the table region.
  static Result<std::unique_ptr<ControlDaemon>> start(const Options& options);

  // Plans and publishes the tables of the current config.
  Result<PublishReport> publish();
  // Re-reads the config file; on success publishes it, on failure keeps the old one.
  Result<PublishReport> reload();
  // Blocks handling SIGHUP (reload) until SIGINT or SIGTERM. Signals must be blocked in
  // every thread before start() (see main.cpp).
  int run();

  const Config& config() const noexcept { return config_; }

 private:
  ControlDaemon(Options options, Config config, TableWriter writer)
      : options_(std::move(options)), config_(std::move(config)), writer_(std::move(writer)) {}

  Options options_;
  Config config_;
  TableWriter writer_;
};

// The config at `path` with the segment override applied.
Result<Config> load_daemon_config(const std::string& path, const std::string& segment_override);

}  // namespace eclb::ctl
