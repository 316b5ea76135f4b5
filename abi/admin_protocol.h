// The admin protocol between eclbctl (and operators' scripts) and eclb-control: one JSON
// object per line over the admin socket, answered by one JSON object per line. These are
// its names, used by both sides; adding a command or field is compatible, renaming one is
// not. Every answer carries "ok" (true/false) and, when false, "error" (one line).
#pragma once

namespace eclb::abi::admin {

// Request: {"command": NAME, ...}
inline constexpr const char* kCommand = "command";
inline constexpr const char* kReload = "reload";    // re-read the config; answers published, generation
inline constexpr const char* kStatus = "status";    // generation, config, publishes, vips, health_checks, l7
inline constexpr const char* kHealth = "health";    // backends: [{pool, name, address, health, drained, weight, ...}]
inline constexpr const char* kDrain = "drain";      // backend, pool?: no new flows
inline constexpr const char* kUndrain = "undrain";  // backend, pool?
inline constexpr const char* kWeight = "weight";    // backend, pool?, weight, ramp_ms?
inline constexpr const char* kWithdraw = "withdraw";  // vip? (absent: every VIP): stop announcing
inline constexpr const char* kAnnounce = "announce";  // vip? (absent: every VIP): undo withdraw
// addresses: [{address, announced, since_unix_ms, reason, vips: [{name, ok, reason}]}],
// withdrawn_all, withdrawn, bird: {socket, error, protocols: [...], bfd: [...]}
inline constexpr const char* kAnnouncements = "announcements";
// self: this host's state (as GET /state serves it), peers: [{name, address}], timeout_ms
inline constexpr const char* kCluster = "cluster";

// Request fields.
inline constexpr const char* kBackend = "backend";  // a backend's name or ADDRESS:PORT
inline constexpr const char* kPool = "pool";        // the pool, when the backend is in several
inline constexpr const char* kWeightValue = "weight";
inline constexpr const char* kRampMs = "ramp_ms";
inline constexpr const char* kVip = "vip";          // a VIP's name

// Answer fields.
inline constexpr const char* kOk = "ok";
inline constexpr const char* kError = "error";
inline constexpr const char* kGeneration = "generation";  // the table generation now
inline constexpr const char* kPublished = "published";    // whether the command published a new one
inline constexpr const char* kBackends = "backends";

}  // namespace eclb::abi::admin
