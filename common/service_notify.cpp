// sd_notify wrappers. libsystemd's calls return <= 0 without a notification socket; a
// failed notification is not an error of eclb's (systemd will say so itself).
#include "common/service_notify.h"

#include <systemd/sd-daemon.h>

#include <string>

namespace eclb::service {
namespace {

void send(const std::string& state) noexcept { (void)sd_notify(0, state.c_str()); }

// A status line is one line: the protocol is newline-separated assignments.
std::string one_line(std::string_view text) {
  std::string line(text);
  for (char& c : line) {
    if (c == '\n') c = ' ';
  }
  return line;
}

}  // namespace

void notify_ready(std::string_view status) noexcept {
  try {
    send("READY=1\nSTATUS=" + one_line(status));
  } catch (...) {
  }
}

void notify_status(std::string_view status) noexcept {
  try {
    send("STATUS=" + one_line(status));
  } catch (...) {
  }
}

void notify_reloading() noexcept { (void)sd_notify(0, "RELOADING=1"); }
void notify_stopping() noexcept { (void)sd_notify(0, "STOPPING=1"); }
void notify_watchdog() noexcept { (void)sd_notify(0, "WATCHDOG=1"); }

std::optional<std::chrono::microseconds> watchdog_period() noexcept {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec / 2);
}

}  // namespace eclb::service
