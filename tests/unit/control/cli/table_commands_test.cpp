// eclbctl's read-only commands over a real published region: JSON fields, digests,
// VIP selection and errors.
#include "control/cli/table_commands.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "config/config_loader.h"
#include "control/core/maglev_digest.h"
#include "control/core/maglev_table.h"
#include "control/core/table_planner.h"
#include "control/publish/table_writer.h"
#include "tests/unit/support/temp_dir.h"

namespace eclb::ctl::cli {
namespace {

using nlohmann::json;

constexpr const char* kConfig = R"(pools:
  gw:
    backends:
      - { name: vm1, address: 10.0.0.1, port: 8080 }
      - { name: vm2, address: 10.0.0.2, port: 8080, weight: 3 }
      - { name: vm3, address: 10.0.0.3, port: 8080, weight: 0 }
vips:
  - { name: web, address: 10.0.0.100, port: 443, pool: gw, table_size: 251 }
  - { name: dns, address: 10.0.0.100, port: 443, protocol: udp, pool: gw, table_size: 13 }
)";

class TableCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = parse_config(kConfig, "t.yaml");
    ASSERT_TRUE(config.ok()) << config.error().message;
    auto writer = TableWriter::open({dir_.file("tables"), TableCapacity{8, 64, 8, 4096}});
    ASSERT_TRUE(writer.ok());
    auto content = plan_tables(*config);
    ASSERT_TRUE(content.ok());
    ASSERT_TRUE(writer->publish(*content).ok());
    auto segment = TableSegment::attach(dir_.file("tables"), MappedFile::Access::kReadOnly);
    ASSERT_TRUE(segment.ok());
    auto snapshot = segment->snapshot();
    ASSERT_TRUE(snapshot.ok());
    snapshot_ = std::move(*snapshot);
  }

  test::TempDir dir_;
  TableSnapshot snapshot_;
};

TEST_F(TableCommandsTest, TableJsonHasTheDocumentedFields) {
  auto text = render_table(snapshot_, "web", true, std::nullopt);
  ASSERT_TRUE(text.ok()) << text.error().message;
  const json out = json::parse(*text);
  EXPECT_EQ(out["vip"], "web");
  EXPECT_EQ(out["size"], 251);
  EXPECT_EQ(out["generation"], 1);
  ASSERT_EQ(out["backends"].size(), 3u);
  EXPECT_EQ(out["backends"][1]["name"], "vm2");
  EXPECT_EQ(out["backends"][1]["address"], "10.0.0.2");
  EXPECT_EQ(out["backends"][1]["port"], 8080);
  EXPECT_EQ(out["backends"][1]["weight"], 3);
  EXPECT_EQ(out["backends"][2]["slots"], 0);
  EXPECT_FALSE(out.contains("slots")) << "the raw slots only with --slots";
  EXPECT_NEAR(out["backends"][1]["weight_share"].get<double>(), 0.75, 1e-9);
  EXPECT_NEAR(out["backends"][1]["share"].get<double>(), 0.75, 0.01);

  auto all = render_table(snapshot_, "web", true, SlotRange{0, 250});
  ASSERT_TRUE(all.ok()) << all.error().message;
  const json with_slots = json::parse(*all);
  ASSERT_EQ(with_slots["slots"].size(), 251u);
  std::vector<uint32_t> counts(3, 0);
  for (const auto& slot : with_slots["slots"]) ++counts[slot.get<uint32_t>()];
  EXPECT_EQ(counts[0], out["backends"][0]["slots"].get<uint32_t>());
  EXPECT_EQ(counts[1], out["backends"][1]["slots"].get<uint32_t>());
}

TEST_F(TableCommandsTest, SlotRangeLimitsTheSlots) {
  auto text = render_table(snapshot_, "web", true, SlotRange{10, 19});
  ASSERT_TRUE(text.ok());
  const json out = json::parse(*text);
  EXPECT_EQ(out["slots_first"], 10);
  EXPECT_EQ(out["slots"].size(), 10u);
  auto human = render_table(snapshot_, "web", false, SlotRange{0, 2});
  ASSERT_TRUE(human.ok());
  EXPECT_THAT(*human, ::testing::HasSubstr("SLOT  #  NAME  ADDRESS"));
  auto outside = render_table(snapshot_, "web", false, SlotRange{0, 251});
  ASSERT_FALSE(outside.ok());
  EXPECT_EQ(outside.error().message, "slot range 0:251 is outside the table (size 251)");
  EXPECT_FALSE(parse_slot_range("5:2").ok());
  EXPECT_FALSE(parse_slot_range("x").ok());
}

TEST_F(TableCommandsTest, DigestEqualsTheDigestOfTheSameTableBuiltDirectly) {
  std::vector<MaglevBackend> set{{*Endpoint::parse("10.0.0.3:8080"), 0},  // order must not matter
                                 {*Endpoint::parse("10.0.0.2:8080"), 3},
                                 {*Endpoint::parse("10.0.0.1:8080"), 1}};
  const MaglevTable table = *MaglevTable::build(set, 251);
  const std::vector<Endpoint> endpoints{set[0].endpoint, set[1].endpoint, set[2].endpoint};
  auto digest = render_digest(snapshot_, "10.0.0.100:443/tcp", false);
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ(*digest, maglev_digest(endpoints, table.slots()) + "\n");
}

TEST_F(TableCommandsTest, VipSelectionByNameOrEndpoint) {
  EXPECT_STREQ((*find_vip(snapshot_, "dns"))->name, "dns");
  EXPECT_STREQ((*find_vip(snapshot_, "10.0.0.100:443/udp"))->name, "dns");
  auto ambiguous = find_vip(snapshot_, "10.0.0.100:443");
  ASSERT_FALSE(ambiguous.ok());
  EXPECT_EQ(ambiguous.error().message, "VIP \"10.0.0.100:443\" is ambiguous: add /tcp or /udp");
  auto unknown = find_vip(snapshot_, "nope");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message, "unknown VIP \"nope\" (not a VIP name or ADDRESS:PORT)");
  EXPECT_EQ(find_vip(snapshot_, "10.0.0.100:444").error().message, "unknown VIP \"10.0.0.100:444\"");
}

TEST_F(TableCommandsTest, VipsAndBackendsRender) {
  const json vips = json::parse(render_vips(snapshot_, true));
  ASSERT_EQ(vips["vips"].size(), 2u);
  EXPECT_EQ(vips["vips"][0]["mode"], "fullnat");
  EXPECT_EQ(vips["vips"][1]["protocol"], "udp");
  auto backends = render_backends(snapshot_, "web", true);
  ASSERT_TRUE(backends.ok());
  const json parsed = json::parse(*backends);
  EXPECT_EQ(parsed["backends"][2]["state"], "up");
  EXPECT_EQ(parsed["backends"][2]["weight"], 0);
  EXPECT_THAT(render_vips(snapshot_, false), ::testing::HasSubstr("web   10.0.0.100:443  tcp    fullnat  251"));
}

}  // namespace
}  // namespace eclb::ctl::cli
