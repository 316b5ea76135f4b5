// ServiceWatchdog: fed every period while every worker's tick count moves; not fed once
// one worker has stood still for kStallMs; fed again when it moves.
#include "dataplane/runtime/service_watchdog.h"

#include <gtest/gtest.h>

namespace eclb::dp {
namespace {

struct Fixture {
  std::atomic<uint64_t> ticks[2] = {0, 0};
  int feeds = 0;
  ServiceWatchdog watchdog{std::chrono::milliseconds(500), [this] { ++feeds; }, {&ticks[0], &ticks[1]}};

  // Runs the control lcore's 100 ms ticks from `from_ms` to `to_ms`; the workers in
  // `moving` advance 100 ticks each time.
  void run(uint64_t from_ms, uint64_t to_ms, bool worker0_moves, bool worker1_moves) {
    for (uint64_t now = from_ms; now < to_ms; now += 100) {
      if (worker0_moves) ticks[0] += 100;
      if (worker1_moves) ticks[1] += 100;
      watchdog.tick(now);
    }
  }
};

TEST(ServiceWatchdogTest, FedOncePerPeriodWhileEveryWorkerMoves) {
  Fixture f;
  f.run(10000, 12000, true, true);  // 2 s at a 500 ms period: fed at 0, 500, 1000, 1500
  EXPECT_EQ(f.feeds, 4);
  EXPECT_FALSE(f.watchdog.stalled());
}

TEST(ServiceWatchdogTest, OneStuckWorkerStopsTheFeeding) {
  Fixture f;
  f.run(10000, 11000, true, true);
  const int before = f.feeds;
  f.run(11000, 15000, true, false);  // worker 1 stands still from 11 s
  EXPECT_TRUE(f.watchdog.stalled());
  // Still fed inside the first kStallMs (a worker may pause that long), never after.
  EXPECT_LE(f.feeds - before, static_cast<int>(ServiceWatchdog::kStallMs / 500));
  const int stalled_feeds = f.feeds;
  f.run(15000, 17000, true, false);
  EXPECT_EQ(f.feeds, stalled_feeds);
  f.run(17000, 18000, true, true);  // it moves again
  EXPECT_FALSE(f.watchdog.stalled());
  EXPECT_GT(f.feeds, stalled_feeds);
}

TEST(ServiceWatchdogTest, WithoutAPeriodItOnlyWatches) {
  std::atomic<uint64_t> ticks{0};
  int feeds = 0;
  ServiceWatchdog watchdog(std::chrono::microseconds(0), [&] { ++feeds; }, {&ticks});
  for (uint64_t now = 1000; now < 5000; now += 100) watchdog.tick(now);
  EXPECT_EQ(feeds, 0);
  EXPECT_TRUE(watchdog.stalled());
}

}  // namespace
}  // namespace eclb::dp
