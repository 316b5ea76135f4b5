// systemd's service notification protocol (sd_notify) for eclb-control and
// eclb-dataplane: readiness, watchdog keep-alives, a status line and stopping. Started
// without Type=notify (no NOTIFY_SOCKET: a shell, a test, another supervisor), every
// call does nothing, so the daemons call these unconditionally.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace eclb::service {

// Once the process serves what it exists for (control: tables published, admin socket
// and listeners up; dataplane: workers forwarding). `status` is shown by systemctl.
void notify_ready(std::string_view status) noexcept;
void notify_status(std::string_view status) noexcept;
void notify_reloading() noexcept;  // follow with notify_ready when the reload is done
void notify_stopping() noexcept;
// One keep-alive. Call only from the loop whose progress it vouches for.
void notify_watchdog() noexcept;

// How often to send keep-alives: half of WatchdogSec (systemd's own advice), or nothing
// when the unit has no watchdog for this process.
std::optional<std::chrono::microseconds> watchdog_period() noexcept;

}  // namespace eclb::service
