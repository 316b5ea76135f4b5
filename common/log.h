// Logging for eclb-control, eclbctl and the dataplane's slow path: one line per event,
// "TIME LEVEL COMPONENT: message key=value ...", on stderr. Never used per packet.
#pragma once

#include <fmt/format.h>

#include <string_view>

namespace eclb::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void set_level(Level level) noexcept;
Level level() noexcept;
void write(Level level, std::string_view component, std::string_view message) noexcept;

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
