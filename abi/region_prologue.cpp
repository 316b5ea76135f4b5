// Header checksums of the shared-memory regions (see region_prologue.h).
#include "abi/region_prologue.h"

#include <xxhash.h>

#include <cstring>

namespace eclb::abi {

uint64_t header_checksum(const void* header, size_t bytes, const FieldSpan* atomic_fields, size_t count) noexcept {
  // Headers are at most a few hundred bytes: a copy on the stack with the moving fields
  // cleared. Larger inputs are a caller bug; they are hashed as they are, cut at the limit.
  unsigned char copy[512];
  if (bytes > sizeof copy) bytes = sizeof copy;
  std::memcpy(copy, header, bytes);
  const FieldSpan prologue[] = {{offsetof(RegionPrologue, generation), 8}, {offsetof(RegionPrologue, checksum), 8}};
  for (const FieldSpan& field : prologue) std::memset(copy + field.offset, 0, field.bytes);
  for (size_t i = 0; i < count; ++i) {
    if (atomic_fields[i].offset + atomic_fields[i].bytes <= bytes) {
      std::memset(copy + atomic_fields[i].offset, 0, atomic_fields[i].bytes);
    }
  }
  return XXH3_64bits(copy, bytes);
}

}  // namespace eclb::abi
