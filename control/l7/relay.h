// relay_once: moves bytes one way between the two transports of a proxied connection,
// the same code for client -> gateway and gateway -> client. Bytes read go straight to
// the other side from a shared scratch buffer; only what it would not take yet is kept
// (`pending`), and reading from the source pauses until that is flushed, so an idle
// connection holds no relay buffer. Fairness: at most kChunksPerTurn reads per call.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "control/l7/transport.h"

namespace eclb::ctl {

enum class RelayOutcome {
  kWaiting,      // blocked (or the source ended: from.eof): epoll will say when to go on
  kYielded,      // read kChunksPerTurn chunks: call again soon (TLS may hold decrypted bytes)
  kSourceFailed,  // reading `from` failed
  kSinkFailed,    // writing `to` failed
};

inline constexpr int kChunksPerTurn = 8;

// First flushes `pending` to `to`; then, while it is empty and `from` has not ended,
// reads from `from` into `scratch` and writes to `to`. `bytes` (a shared counter) and
// `moved` (this call's) count what was read.
RelayOutcome relay_once(Transport& from, Transport& to, std::string& pending, std::string& scratch,
                        std::atomic<uint64_t>& bytes, size_t& moved);

}  // namespace eclb::ctl
