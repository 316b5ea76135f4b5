// One direction of the relay (see relay.h).
#include "control/l7/relay.h"

namespace eclb::ctl {

RelayOutcome relay_once(Transport& from, Transport& to, std::string& pending, std::string& scratch,
                        std::atomic<uint64_t>& bytes, size_t& moved) {
  if (!pending.empty()) {
    const Io flushed = to.flush(pending);
    if (flushed == Io::kError) return RelayOutcome::kSinkFailed;
    if (flushed == Io::kBlocked) return RelayOutcome::kWaiting;
  }
  for (int chunk = 0; !from.eof; ++chunk) {
    if (chunk == kChunksPerTurn) return RelayOutcome::kYielded;
    size_t got = 0;
    switch (from.read(scratch.data(), scratch.size(), got)) {
      case Io::kProgress: break;
      case Io::kBlocked: return RelayOutcome::kWaiting;
      case Io::kEof: from.eof = true; return RelayOutcome::kWaiting;
      case Io::kError: return RelayOutcome::kSourceFailed;
    }
    bytes.fetch_add(got, std::memory_order_relaxed);
    moved += got;
    size_t sent = 0;
    if (to.write(scratch.data(), got, sent) == Io::kError) return RelayOutcome::kSinkFailed;
    if (sent < got) {
      // Keep the rest; flushing it again either takes it or records what to wait for.
      pending.assign(scratch.data() + sent, got - sent);
      const Io flushed = to.flush(pending);
      if (flushed == Io::kError) return RelayOutcome::kSinkFailed;
      if (flushed == Io::kBlocked) return RelayOutcome::kWaiting;
    }
  }
  return RelayOutcome::kWaiting;
}

}  // namespace eclb::ctl
