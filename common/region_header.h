// read_region_header: a region's header copied out of its mapping and checked through its
// prologue (abi/region_prologue.h), with the messages every reader of every region gives
// ("table region has ABI version 9.0, this build reads major version 1"). Used by the
// readers of the three regions and by the dataplane when it adopts its flow region.
#pragma once

#include <cstring>
#include <string_view>

#include "abi/region_prologue.h"
#include "common/result.h"

namespace eclb {

template <typename Header>
Result<Header> read_region_header(const void* base, size_t mapped_bytes, std::string_view kind, uint64_t magic,
                                  uint16_t major, uint64_t (*checksum)(const Header&) noexcept) {
  if (mapped_bytes < sizeof(Header)) {
    return make_error("truncated {} region: {} bytes, header alone needs {}", kind, mapped_bytes, sizeof(Header));
  }
  Header header;
  std::memcpy(&header, base, sizeof header);
  const abi::RegionPrologue& p = header.prologue;
  switch (abi::check_prologue(p, magic, major, sizeof(Header), checksum(header), mapped_bytes)) {
    case abi::PrologueCheck::kOk: return header;
    case abi::PrologueCheck::kNotThisRegion: return make_error("not an eclb {} region (bad magic {:#018x})", kind, p.magic);
    case abi::PrologueCheck::kOtherMajor:
      return make_error("{} region has ABI version {}.{}, this build reads major version {}", kind, p.abi_major,
                        p.abi_minor, major);
    case abi::PrologueCheck::kShortHeader:
      return make_error("{} region header_bytes {} is smaller than {}", kind, p.header_bytes, sizeof(Header));
    case abi::PrologueCheck::kBadChecksum: return make_error("{} region header checksum mismatch", kind);
    case abi::PrologueCheck::kTruncated:
      return make_error("truncated {} region: header says {} bytes, file has {}", kind, p.region_bytes, mapped_bytes);
  }
  return make_error("{} region: invalid header", kind);
}

}  // namespace eclb
