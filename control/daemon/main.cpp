// eclb-control entry point: argument parsing and top-level error handling.
#include <signal.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>

#include "common/log.h"
#include "control/daemon/control_daemon.h"
#include "control/l7/tls_store.h"

int main(int argc, char** argv) {
  CLI::App app{"eclb-control: config, health checks, Maglev tables and their publication to the dataplane"};
  app.set_version_flag("--version", ECLB_VERSION);
  eclb::ctl::DaemonOptions options;
  bool check_only = false;
  bool once = false;
  app.add_option("-c,--config", options.config_path, "YAML configuration (with --env-file: the base for the rest)");
  app.add_option("--env-file", options.env_file, "the nginx image's environment.env (GATEWAY_LIST, DNS_NAME, ...)");
  app.add_option("--segment", options.segment_override, "table region path (overrides tables.segment)");
  app.add_option("--admin-socket", options.admin_override, "admin socket path (overrides control.admin_socket)");
  app.add_option("--metrics", options.metrics_override, "metrics ADDRESS:PORT or off (overrides control.metrics)");
  app.add_flag("--check", check_only, "validate the configuration and exit (non-zero on error)");
  app.add_flag("--once", once, "publish the tables once (every backend up) and exit");
  CLI11_PARSE(app, argc, argv);

  if (check_only) {
    auto config = eclb::ctl::load_daemon_config(options);
    if (!config) {
      fmt::print(stderr, "{}\n", config.error().message);
      return 1;
    }
    // Certificates load as they would at start (a key that does not match, a bad PEM).
    for (const auto& vip : config->vips) {
      if (vip.l7.certificates.empty()) continue;
      if (auto store = eclb::ctl::TlsStore::load(vip.l7.certificates, vip.l7.session_tickets); !store) {
        fmt::print(stderr, "{}: VIP {}: {}\n", config->source, vip.name, store.error().message);
        return 1;
      }
    }
    size_t backends = 0;
    for (const auto& pool : config->pools) backends += pool.backends.size();
    fmt::print("{}: OK ({} VIPs, {} pools, {} backends)\n", config->source, config->vips.size(), config->pools.size(),
               backends);
    return 0;
  }
  if (once) {
    options.metrics_override = "off";
    options.serve_l7 = false;
  }

  // Block the signals the daemon handles through signalfd before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // The L7 proxy holds two descriptors per connection: take every descriptor the hard
  // limit allows (as nginx's worker_rlimit_nofile would), not the shell's 1024.
  if (rlimit files{}; getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }

  auto daemon = eclb::ctl::ControlDaemon::start(options);
  if (!daemon) {
    eclb::log::error("control", "{}", daemon.error().message);
    return 1;
  }
  auto published = (*daemon)->publish(true);
  if (!published) {
    eclb::log::error("control", "{}", published.error().message);
    return 1;
  }
  if (once) return 0;
  return (*daemon)->run();
}
