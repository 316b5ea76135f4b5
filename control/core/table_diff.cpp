// Publication diffs (see table_diff.h).
#include "control/core/table_diff.h"

#include <fmt/format.h>

#include "config/config.h"

namespace eclb::ctl {

bool same_content(const TableContent& a, const TableContent& b) {
  if (a.vips.size() != b.vips.size() || a.flow_hash_seed != b.flow_hash_seed) return false;
  for (size_t v = 0; v < a.vips.size(); ++v) {
    const VipContent& x = a.vips[v];
    const VipContent& y = b.vips[v];
    if (x.name != y.name || x.endpoint != y.endpoint || x.protocol != y.protocol || x.mode != y.mode ||
        x.table_size != y.table_size || x.members.size() != y.members.size()) {
      return false;
    }
    for (size_t m = 0; m < x.members.size(); ++m) {
      const MemberContent& p = x.members[m];
      const MemberContent& q = y.members[m];
      if (p.name != q.name || p.endpoint != q.endpoint || p.weight != q.weight || p.state != q.state) return false;
    }
  }
  return true;
}

std::string describe_changes(const TableContent* before, const TableContent& after) {
  if (before == nullptr) return "initial";
  std::string out;
  const auto add = [&](const std::string& text) { out += (out.empty() ? "" : ", ") + text; };
  for (const VipContent& vip : after.vips) {
    const VipContent* old = nullptr;
    for (const VipContent& candidate : before->vips) {
      if (candidate.name == vip.name) old = &candidate;
    }
    if (old == nullptr) {
      add(fmt::format("{} added", vip.name));
      continue;
    }
    for (const MemberContent& member : vip.members) {
      const MemberContent* was = nullptr;
      for (const MemberContent& candidate : old->members) {
        if (candidate.endpoint == member.endpoint) was = &candidate;
      }
      if (was == nullptr) {
        add(fmt::format("{}/{} added", vip.name, member.name));
        continue;
      }
      if (was->state != member.state) {
        add(fmt::format("{}/{} {}->{}", vip.name, member.name, to_string(was->state), to_string(member.state)));
      }
      if (was->weight != member.weight) {
        add(fmt::format("{}/{} weight {}->{}", vip.name, member.name, was->weight, member.weight));
      }
    }
    for (const MemberContent& was : old->members) {
      bool kept = false;
      for (const MemberContent& member : vip.members) kept = kept || member.endpoint == was.endpoint;
      if (!kept) add(fmt::format("{}/{} removed", vip.name, was.name));
    }
  }
  for (const VipContent& old : before->vips) {
    bool kept = false;
    for (const VipContent& vip : after.vips) kept = kept || vip.name == old.name;
    if (!kept) add(fmt::format("{} removed", old.name));
  }
  return out.empty() ? "none" : out;
}

}  // namespace eclb::ctl
