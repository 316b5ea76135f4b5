// The table digest: one stable SHA-256 over a Maglev table's content, so operators can
// check that two balancer hosts (or two generations) route identically. It covers the
// slot -> member identity mapping only: member order, ids, names and members that own
// no slot do not change it.
#pragma once

#include <span>
#include <string>

#include "common/ip_address.h"

namespace eclb::ctl {

// members[i] is the identity of slot value i; slots hold member indices or kNoBackend.
// Returns "sha256:<64 hex digits>". Format, version 1: SHA-256 of
//   "eclb-maglev-digest-v1" NUL, M (u32 LE), K (u32 LE, members owning a slot),
//   K identities (maglev_key bytes, ascending), M u32 LE (rank of the slot's member among
//   those K, or 0xFFFFFFFF for none).
std::string maglev_digest(std::span<const Endpoint> members, std::span<const uint32_t> slots);

}  // namespace eclb::ctl
