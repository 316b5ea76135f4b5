// RegionPrologue: how each of eclb's three shared-memory regions begins (the table region
// eclb-control writes, the flow and stats regions eclb-dataplane writes), and the checks
// every reader makes of it before trusting anything else in the region. One definition
// for the writers and readers of all three, so a reader of one region cannot drift from
// the others.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace eclb::abi {

struct RegionPrologue {
  uint64_t magic;          // which region this is ("ECLBTBL1", "ECLBFLW1", "ECLBSTA1" in memory)
  uint16_t abi_major;      // a reader rejects a major it does not know
  uint16_t abi_minor;      // appending fields bumps minor; readers check it before reading them
  uint32_t header_bytes;   // size of the region's header (this prologue included)
  uint64_t region_bytes;   // size of the whole mapping (the file)
  uint64_t generation;     // atomic; what it counts is the region's own (see its header)
  uint64_t checksum;       // XXH3-64 of the header with its atomic fields taken as zero
};

static_assert(std::is_standard_layout_v<RegionPrologue> && sizeof(RegionPrologue) == 40);
static_assert(offsetof(RegionPrologue, abi_major) == 8);
static_assert(offsetof(RegionPrologue, header_bytes) == 12);
static_assert(offsetof(RegionPrologue, region_bytes) == 16);
static_assert(offsetof(RegionPrologue, generation) == 24);
static_assert(offsetof(RegionPrologue, checksum) == 32);

// The first checks of a mapped region, in the order a reader makes them.
enum class PrologueCheck : uint8_t {
  kOk,
  kTruncated,      // the mapping is smaller than the header, or than region_bytes
  kNotThisRegion,  // another magic: not the region the reader expects
  kOtherMajor,     // an ABI major this build does not read
  kShortHeader,    // header_bytes smaller than the header this build knows
  kBadChecksum,    // the header's checksum does not match
};

// A prologue `p` found at the start of a mapping of `mapped_bytes`, for a region whose
// header (of this build) is `header_bytes` long and whose header checksum is `checksum`
// (computed by the caller with the region's own checksum function).
constexpr PrologueCheck check_prologue(const RegionPrologue& p, uint64_t magic, uint16_t major, size_t header_bytes,
                                       uint64_t checksum, uint64_t mapped_bytes) noexcept {
  if (mapped_bytes < header_bytes) return PrologueCheck::kTruncated;
  if (p.magic != magic) return PrologueCheck::kNotThisRegion;
  if (p.abi_major != major) return PrologueCheck::kOtherMajor;
  if (p.header_bytes < header_bytes) return PrologueCheck::kShortHeader;
  if (p.checksum != checksum) return PrologueCheck::kBadChecksum;
  if (p.region_bytes > mapped_bytes) return PrologueCheck::kTruncated;
  return PrologueCheck::kOk;
}

constexpr const char* describe(PrologueCheck check) noexcept {
  switch (check) {
    case PrologueCheck::kOk: return "valid";
    case PrologueCheck::kTruncated: return "truncated (smaller than its header says)";
    case PrologueCheck::kNotThisRegion: return "not this kind of eclb region (bad magic)";
    case PrologueCheck::kOtherMajor: return "another ABI major version";
    case PrologueCheck::kShortHeader: return "header shorter than this build's";
    case PrologueCheck::kBadChecksum: return "header checksum mismatch";
  }
  return "invalid";
}

// A prologue for a new region: generation 0, checksum to be filled by the writer last.
constexpr RegionPrologue make_prologue(uint64_t magic, uint16_t major, uint16_t minor, uint32_t header_bytes,
                                       uint64_t region_bytes) noexcept {
  return RegionPrologue{magic, major, minor, header_bytes, region_bytes, 0, 0};
}

// XXH3-64 of `bytes` of a header whose prologue's generation and checksum, and the
// `atomic_fields` (offset and size pairs), are taken as zero: the header checksum of
// every region (region_prologue.cpp).
struct FieldSpan {
  uint32_t offset;
  uint32_t bytes;
};
uint64_t header_checksum(const void* header, size_t bytes, const FieldSpan* atomic_fields, size_t count) noexcept;

}  // namespace eclb::abi
