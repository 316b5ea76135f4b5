// Line-atomic stderr logger: each event is formatted whole, then written with one call.
#include "common/log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace eclb::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};

std::string_view name(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "?";
}

// syslog priorities (sd-daemon.h's SD_DEBUG .. SD_ERR), which journald reads from "<N>".
int priority(Level level) {
  switch (level) {
    case Level::kDebug: return 7;
    case Level::kInfo: return 6;
    case Level::kWarn: return 4;
    case Level::kError: return 3;
  }
  return 6;
}

// Decided once: a daemon's stderr does not move between the journal and a terminal.
const bool g_journal = is_journal_stream(STDERR_FILENO, std::getenv("JOURNAL_STREAM"));

}  // namespace

bool is_journal_stream(int fd, const char* journal_stream) noexcept {
  if (journal_stream == nullptr) return false;
  unsigned long long device = 0;
  unsigned long long inode = 0;
  if (std::sscanf(journal_stream, "%llu:%llu", &device, &inode) != 2) return false;
  struct stat file {};
  if (fstat(fd, &file) != 0) return false;
  return file.st_dev == device && file.st_ino == inode;
}

std::string format_line(Level level, std::string_view component, std::string_view message, bool journal,
                        std::chrono::system_clock::time_point now) {
  if (journal) return fmt::format("<{}>{} {}: {}\n", priority(level), name(level), component, message);
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z {} {}: {}\n", utc.tm_year + 1900, utc.tm_mon + 1,
                     utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis, name(level), component, message);
}

void set_level(Level level) noexcept { g_level.store(level, std::memory_order_relaxed); }
Level level() noexcept { return g_level.load(std::memory_order_relaxed); }

void write(Level level, std::string_view component, std::string_view message) noexcept {
  try {
    const std::string line = format_line(level, component, message, g_journal, std::chrono::system_clock::now());
    [[maybe_unused]] const ssize_t written = ::write(STDERR_FILENO, line.data(), line.size());
  } catch (...) {
    // Out of memory while logging: drop the line rather than throw from a noexcept path.
  }
}

}  // namespace eclb::log
