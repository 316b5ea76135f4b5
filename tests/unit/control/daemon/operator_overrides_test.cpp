// Drains and weight ramps over injected time.
#include "control/daemon/operator_overrides.h"

#include <gtest/gtest.h>

namespace eclb::ctl {
namespace {

using namespace std::chrono_literals;

TEST(OperatorOverridesTest, WeightsRampLinearly) {
  OperatorOverrides overrides;
  const OperatorOverrides::Key key{"gw", *Endpoint::parse("10.0.0.1:80")};
  const auto t0 = OperatorOverrides::Clock::time_point{} + 100s;
  EXPECT_EQ(overrides.weight(key, 3, t0), 3u) << "the configured weight by default";
  overrides.set_weight(key, 3, 13, 10s, t0);
  EXPECT_EQ(overrides.weight(key, 3, t0), 3u);
  EXPECT_EQ(overrides.weight(key, 3, t0 + 5s), 8u);
  EXPECT_EQ(overrides.weight(key, 3, t0 + 10s), 13u);
  EXPECT_TRUE(overrides.ramping(t0 + 9s));
  EXPECT_FALSE(overrides.ramping(t0 + 11s));
  overrides.set_weight(key, 3, 0, 0s, t0 + 20s);
  EXPECT_EQ(overrides.weight(key, 3, t0 + 20s), 0u) << "immediate";
}

TEST(OperatorOverridesTest, DrainsAndRetention) {
  OperatorOverrides overrides;
  const OperatorOverrides::Key a{"gw", *Endpoint::parse("10.0.0.1:80")}, b{"gw", *Endpoint::parse("10.0.0.2:80")};
  overrides.drain(a, true);
  overrides.drain(b, true);
  EXPECT_TRUE(overrides.drained(a));
  overrides.retain([&](const OperatorOverrides::Key& key) { return key == a; });
  EXPECT_TRUE(overrides.drained(a));
  EXPECT_FALSE(overrides.drained(b)) << "a backend that left the config forgets its drain";
  overrides.drain(a, false);
  EXPECT_FALSE(overrides.drained(a));
}

}  // namespace
}  // namespace eclb::ctl
