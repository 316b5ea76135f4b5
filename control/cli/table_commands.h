// The read-only eclbctl commands over a table snapshot: vips, backends, table. Each
// renders either a human table or JSON, returned as text so tests can check it without
// running the binary. The snapshot comes from shared memory (no daemon needed).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/result.h"
#include "common/table_segment.h"

namespace eclb::ctl::cli {

struct SlotRange {
  uint32_t first = 0;
  uint32_t last = 0;  // inclusive
};

// "A:B" (inclusive), both within the table.
Result<SlotRange> parse_slot_range(const std::string& text);

// Finds a VIP by name, by "ADDRESS:PORT" or "ADDRESS:PORT/tcp|udp". An address:port
// matching both a TCP and a UDP VIP is ambiguous.
Result<const abi::VipEntry*> find_vip(const TableSnapshot& snapshot, const std::string& selector);

std::string render_vips(const TableSnapshot& snapshot, bool json);
Result<std::string> render_backends(const TableSnapshot& snapshot, const std::string& vip, bool json);
Result<std::string> render_table(const TableSnapshot& snapshot, const std::string& vip, bool json,
                                 std::optional<SlotRange> slots);
// Which backend the Maglev table sends a new flow from `source` (ADDRESS:PORT) to the
// VIP to: flow_hash (abi/flow_hash.h) with the published seed, mod M.
Result<std::string> render_which(const TableSnapshot& snapshot, const std::string& vip, const std::string& source,
                                 bool json);

// One line: the table digest (maglev_digest) of the VIP, for comparing hosts.
Result<std::string> render_digest(const TableSnapshot& snapshot, const std::string& vip, bool json);

}  // namespace eclb::ctl::cli
