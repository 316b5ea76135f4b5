// same_content and describe_changes: what makes eclb-control publish, and the one line
// that says what a publication changed.
#include "control/core/table_diff.h"

#include <gtest/gtest.h>

namespace eclb::ctl {
namespace {

TableContent two_members() {
  TableContent content;
  content.flow_hash_seed = 7;
  VipContent vip;
  vip.name = "web";
  vip.endpoint = *Endpoint::parse("10.0.0.100:80");
  vip.members.push_back({"vm1", *Endpoint::parse("10.0.0.11:80"), 1, abi::BackendState::kUp});
  vip.members.push_back({"vm2", *Endpoint::parse("10.0.0.12:80"), 1, abi::BackendState::kUp});
  content.vips.push_back(vip);
  return content;
}

TEST(TableDiffTest, EqualContentIsTheSame) {
  EXPECT_TRUE(same_content(two_members(), two_members()));
  EXPECT_EQ(describe_changes(nullptr, two_members()), "initial");
  const TableContent a = two_members();
  EXPECT_EQ(describe_changes(&a, two_members()), "none");
}

TEST(TableDiffTest, EveryFieldAReaderSeesCounts) {
  const TableContent base = two_members();
  auto changed = [&](auto change) {
    TableContent other = two_members();
    change(other);
    return !same_content(base, other);
  };
  EXPECT_TRUE(changed([](TableContent& c) { c.flow_hash_seed = 8; }));
  EXPECT_TRUE(changed([](TableContent& c) { c.vips[0].table_size = 251; }));
  EXPECT_TRUE(changed([](TableContent& c) { c.vips[0].mode = abi::ForwardMode::kDsrGue; }));
  EXPECT_TRUE(changed([](TableContent& c) { c.vips[0].protocol = abi::L4Protocol::kUdp; }));
  EXPECT_TRUE(changed([](TableContent& c) { c.vips[0].members[1].weight = 2; }));
  EXPECT_TRUE(changed([](TableContent& c) { c.vips[0].members[1].state = abi::BackendState::kDrained; }));
  EXPECT_TRUE(changed([](TableContent& c) { c.vips[0].members.pop_back(); }));
  EXPECT_TRUE(changed([](TableContent& c) { c.vips.clear(); }));
  EXPECT_FALSE(changed([](TableContent& c) { c.vips[0].slots = {1, 2, 3}; })) << "slots follow from the rest";
}

TEST(TableDiffTest, ChangesAreDescribedByVipAndMember) {
  const TableContent before = two_members();
  TableContent after = two_members();
  after.vips[0].members[0].state = abi::BackendState::kDown;
  after.vips[0].members[1].weight = 3;
  after.vips[0].members.push_back({"vm3", *Endpoint::parse("10.0.0.13:80"), 1, abi::BackendState::kUp});
  VipContent added;
  added.name = "dns";
  after.vips.push_back(added);
  EXPECT_EQ(describe_changes(&before, after), "web/vm1 up->down, web/vm2 weight 1->3, web/vm3 added, dns added");
  EXPECT_EQ(describe_changes(&after, before), "web/vm1 down->up, web/vm2 weight 3->1, web/vm3 removed, dns removed");
}

}  // namespace
}  // namespace eclb::ctl
