// sd_notify wrappers against a real notification socket (a Unix datagram socket, as
// systemd's), and the watchdog period from WATCHDOG_USEC / WATCHDOG_PID.
#include "common/service_notify.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "unit/support/temp_dir.h"

namespace eclb::service {
namespace {

class ServiceNotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd_, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const std::string path = dir_.file("notify");
    std::memcpy(address.sun_path, path.c_str(), path.size());
    ASSERT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    timeval timeout{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setenv("NOTIFY_SOCKET", path.c_str(), 1);
  }
  void TearDown() override {
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    close(fd_);
  }
  std::string receive() {
    char buffer[4096];
    const ssize_t length = recv(fd_, buffer, sizeof buffer, 0);
    return length > 0 ? std::string(buffer, static_cast<size_t>(length)) : std::string("(nothing)");
  }

  test::TempDir dir_;
  int fd_ = -1;
};

TEST_F(ServiceNotifyTest, ReadinessCarriesAOneLineStatus) {
  notify_ready("generation 4,\n2 VIPs");
  EXPECT_EQ(receive(), "READY=1\nSTATUS=generation 4, 2 VIPs");
  notify_watchdog();
  EXPECT_EQ(receive(), "WATCHDOG=1");
  notify_reloading();
  EXPECT_EQ(receive(), "RELOADING=1");
  notify_stopping();
  EXPECT_EQ(receive(), "STOPPING=1");
}

TEST_F(ServiceNotifyTest, WatchdogPeriodIsHalfTheUnitsInterval) {
  EXPECT_FALSE(watchdog_period().has_value());
  setenv("WATCHDOG_USEC", "4000000", 1);
  setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
  ASSERT_TRUE(watchdog_period().has_value());
  EXPECT_EQ(*watchdog_period(), std::chrono::seconds(2));
  // Meant for another process (a parent's watchdog leaking into a child): not ours.
  setenv("WATCHDOG_PID", std::to_string(getpid() + 1).c_str(), 1);
  EXPECT_FALSE(watchdog_period().has_value());
}

TEST(ServiceNotifyWithoutSystemdTest, EveryCallIsHarmless) {
  unsetenv("NOTIFY_SOCKET");
  notify_ready("x");
  notify_status("x");
  notify_watchdog();
  notify_stopping();
  EXPECT_FALSE(watchdog_period().has_value());
}

}  // namespace
}  // namespace eclb::service
