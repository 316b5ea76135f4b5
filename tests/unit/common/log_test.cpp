// The log line's two shapes: timestamped on a terminal or file, "<priority>" without a
// time when stderr is systemd's journal (JOURNAL_STREAM).
#include "common/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "unit/support/temp_dir.h"

namespace eclb::log {
namespace {

TEST(LogTest, PlainLinesCarryAnUtcTimestamp) {
  const auto at = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123));
  EXPECT_EQ(format_line(Level::kWarn, "health", "backend down addr=10.0.0.1:80", false, at),
            "2023-11-14T22:13:20.123Z warn health: backend down addr=10.0.0.1:80\n");
}

TEST(LogTest, JournalLinesCarryThePriorityAndNoTimestamp) {
  const auto at = std::chrono::system_clock::now();
  EXPECT_EQ(format_line(Level::kError, "control", "x=1", true, at), "<3>error control: x=1\n");
  EXPECT_EQ(format_line(Level::kWarn, "control", "x=1", true, at), "<4>warn control: x=1\n");
  EXPECT_EQ(format_line(Level::kInfo, "control", "x=1", true, at), "<6>info control: x=1\n");
  EXPECT_EQ(format_line(Level::kDebug, "control", "x=1", true, at), "<7>debug control: x=1\n");
}

TEST(LogTest, JournalStreamMustNameTheVeryFile) {
  test::TempDir dir;
  const int fd = open(dir.file("stream").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  struct stat file {};
  ASSERT_EQ(fstat(fd, &file), 0);
  const std::string mine = std::to_string(file.st_dev) + ":" + std::to_string(file.st_ino);
  const std::string other = std::to_string(file.st_dev) + ":" + std::to_string(file.st_ino + 1);
  EXPECT_TRUE(is_journal_stream(fd, mine.c_str()));
  // A child that inherited JOURNAL_STREAM but writes elsewhere (a redirect) is not the journal.
  EXPECT_FALSE(is_journal_stream(fd, other.c_str()));
  EXPECT_FALSE(is_journal_stream(fd, nullptr));
  EXPECT_FALSE(is_journal_stream(fd, ""));
  EXPECT_FALSE(is_journal_stream(fd, "garbage"));
  close(fd);
}

}  // namespace
}  // namespace eclb::log
