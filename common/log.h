// Logging for eclb-control, eclbctl and the dataplane's slow path: one line per event,
// "TIME LEVEL COMPONENT: message key=value ...", on stderr. Never used per packet.
// When stderr is systemd's journal (JOURNAL_STREAM names it), the line drops the time,
// which journald records itself, and opens with the level as a syslog priority ("<6>").
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <string>
#include <string_view>

namespace eclb::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void set_level(Level level) noexcept;
Level level() noexcept;
void write(Level level, std::string_view component, std::string_view message) noexcept;

// The line write() emits (with its newline); `journal` as decided for stderr. For tests.
std::string format_line(Level level, std::string_view component, std::string_view message, bool journal,
                        std::chrono::system_clock::time_point now);
// Whether JOURNAL_STREAM ("DEVICE:INODE") names the file `fd` is open on.
bool is_journal_stream(int fd, const char* journal_stream) noexcept;

template <typename... Args>
void debug(std::string_view component, fmt::format_string<Args...> format, Args&&... args) {
  if (level() <= Level::kDebug) write(Level::kDebug, component, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void info(std::string_view component, fmt::format_string<Args...> format, Args&&... args) {
  if (level() <= Level::kInfo) write(Level::kInfo, component, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(std::string_view component, fmt::format_string<Args...> format, Args&&... args) {
  if (level() <= Level::kWarn) write(Level::kWarn, component, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void error(std::string_view component, fmt::format_string<Args...> format, Args&&... args) {
  write(Level::kError, component, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace eclb::log
