// eclb-control: config -> tables -> shared memory, and SIGHUP reload.
#include "control/daemon/control_daemon.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "control/core/config_loader.h"
#include "control/core/table_planner.h"

namespace eclb::ctl {

Result<Config> load_daemon_config(const std::string& path, const std::string& segment_override) {
  auto config = load_config_file(path);
  if (!config) return config;
  if (!segment_override.empty()) config->tables.segment = segment_override;
  return config;
}

Result<std::unique_ptr<ControlDaemon>> ControlDaemon::start(const Options& options) {
  auto config = load_daemon_config(options.config_path, options.segment_override);
  if (!config) return std::move(config).error();
  auto writer = TableWriter::open({config->tables.segment, config->tables.capacity});
  if (!writer) return std::move(writer).error();
  log::info("control", "table region path=\"{}\" {} generation={}", config->tables.segment,
            writer->adopted() ? "adopted" : "created", writer->generation());
  return std::unique_ptr<ControlDaemon>(new ControlDaemon(options, std::move(*config), std::move(*writer)));
}

Result<PublishReport> ControlDaemon::publish() {
  auto content = plan_tables(config_);
  if (!content) return std::move(content).error();
  auto report = writer_.publish(*content);
  if (!report) return report;
  size_t members = 0;
  for (const VipContent& vip : content->vips) members += vip.members.size();
  log::info("publish", "generation={} vips={} members={} waited_us={} readers_reaped={} readers_evicted={}",
            report->generation, content->vips.size(), members, report->waited.count(), report->readers_reaped,
            report->readers_evicted);
  if (report->readers_evicted > 0) {
    log::warn("publish", "evicted={} readers that did not leave the old copy within the grace period",
              report->readers_evicted);
  }
  return report;
}

Result<PublishReport> ControlDaemon::reload() {
  auto config = load_daemon_config(options_.config_path, options_.segment_override);
  if (!config) return std::move(config).context("reload rejected, keeping the running config");
  if (config->tables.segment != config_.tables.segment || config->tables.capacity != config_.tables.capacity) {
    return make_error("reload rejected, keeping the running config: the tables section changed (needs a restart)");
  }
  Config previous = std::move(config_);
  config_ = std::move(*config);
  auto report = publish();
  if (!report) config_ = std::move(previous);
  return report;
}

int ControlDaemon::run() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  const int fd = signalfd(-1, &signals, SFD_CLOEXEC);
  if (fd < 0) {
    log::error("control", "signalfd failed: {}", std::strerror(errno));
    return 1;
  }
  for (;;) {
    signalfd_siginfo info{};
    const ssize_t got = read(fd, &info, sizeof info);
    if (got != sizeof info) {
      if (got < 0 && errno == EINTR) continue;
      log::error("control", "signalfd read failed: {}", std::strerror(errno));
      close(fd);
      return 1;
    }
    if (info.ssi_signo == SIGHUP) {
      log::info("control", "reload requested by SIGHUP");
      auto report = reload();
      if (!report) log::error("control", "{}", report.error().message);
      continue;
    }
    log::info("control", "stopping on signal {}", strsignal(static_cast<int>(info.ssi_signo)));
    close(fd);
    return 0;
  }
}

}  // namespace eclb::ctl
