// The RSS key eclb-dataplane programs into every multi-queue port, so it can tell which
// worker a fullnat reply will reach and pick local ports accordingly. A sender that
// feeds a port without RSS of its own (memif in tests) spreads packets the same way:
// queue = RETA[toeplitz(key, tuple) % RETA size], with RETA[i] = i % queues by default.
// This is the well-known 40-byte key of Microsoft's RSS specification.
#pragma once

#include <cstdint>

namespace eclb::abi {

inline constexpr uint8_t kRssKey[40] = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
    0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
    0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

}  // namespace eclb::abi
