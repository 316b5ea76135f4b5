// eclb-dataplane entry point: EAL init, options, signals, run.
#include <rte_eal.h>
#include <rte_errno.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>

#include "common/log.h"
#include "dataplane/runtime/dataplane.h"

namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop.store(true); }

}  // namespace

int main(int argc, char** argv) {
  // --version and --help need no EAL (no hugepages, no ports): answer them before it.
  if (argc == 2 && (std::strcmp(argv[1], "--version") == 0 || std::strcmp(argv[1], "--help") == 0 ||
                    std::strcmp(argv[1], "-h") == 0)) {
    if (std::strcmp(argv[1], "--version") != 0) {
      std::printf("Usage: eclb-dataplane [EAL arguments, e.g. -l 0,1 -a 0000:03:00.0] -- [options below]\n\n");
    }
    return eclb::dp::parse_options(argc, argv).ok() ? 2 : 0;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const int consumed = rte_eal_init(argc, argv);
  if (consumed < 0) {
    eclb::log::error("dp.runtime", "EAL initialisation failed: {} (hugepages reserved? ports given with --vdev?)",
                     rte_strerror(rte_errno));
    return 1;
  }
  argc -= consumed;
  argv += consumed;
  argv[0] = const_cast<char*>("eclb-dataplane");
  auto options = eclb::dp::parse_options(argc, argv);
  if (!options) {
    if (!options.error().message.empty()) eclb::log::error("dp.runtime", "{}", options.error().message);
    rte_eal_cleanup();
    return options.error().message.empty() ? 0 : 2;
  }
  if (options->log_level == "debug") eclb::log::set_level(eclb::log::Level::kDebug);
  if (options->log_level == "warn") eclb::log::set_level(eclb::log::Level::kWarn);
  if (options->log_level == "error") eclb::log::set_level(eclb::log::Level::kError);
  int status = 0;
  {
    auto dataplane = eclb::dp::Dataplane::start(*options, g_stop);
    if (!dataplane) {
      eclb::log::error("dp.runtime", "{}", dataplane.error().message);
      status = 1;
    } else if (*dataplane) {
      status = (*dataplane)->run(g_stop);
    }
  }
  rte_eal_cleanup();
  return status;
}
