// TableView: read access to one copy of the table region (mapped, or a snapshot copied
// out of it). Used by eclb-dataplane workers on the per-packet path (find_vip, slots_of)
// and by eclbctl. Header-only, noexcept and allocation-free. A view does not own memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "abi/table_region.h"

namespace eclb {

class TableView {
 public:
  TableView() = default;
  // copy_base: start of a copy whose CopyHeader offsets are trusted (validated or written
  // by this process). vip_index_capacity (a power of two) and max_backends come from the
  // region header.
  TableView(const std::byte* copy_base, uint32_t vip_index_capacity, uint32_t max_backends) noexcept
      : base_(copy_base), vip_index_mask_(vip_index_capacity - 1), max_backends_(max_backends) {}

  bool empty() const noexcept { return base_ == nullptr; }
  const abi::CopyHeader& header() const noexcept { return *reinterpret_cast<const abi::CopyHeader*>(base_); }
  const std::byte* base() const noexcept { return base_; }

  std::span<const abi::VipEntry> vips() const noexcept {
    return {at<abi::VipEntry>(header().vips_offset), header().vip_count};
  }
  std::span<const abi::BackendEntry> backends() const noexcept {
    return {at<abi::BackendEntry>(header().backends_offset), header().backend_count};
  }
  std::span<const abi::BackendEntry> backends_of(const abi::VipEntry& vip) const noexcept {
    return backends().subspan(vip.backend_first, vip.backend_count);
  }
  std::span<const abi::SlotValue> slots_of(const abi::VipEntry& vip) const noexcept {
    return {at<abi::SlotValue>(header().slots_offset) + vip.slots_first, vip.table_size};
  }
  std::span<const uint32_t> vip_index() const noexcept {
    return {at<uint32_t>(header().vip_index_offset), vip_index_mask_ + 1};
  }
  std::span<const uint32_t> backend_by_id() const noexcept {
    return {at<uint32_t>(header().backend_by_id_offset), max_backends_};
  }

  // VIP match for a packet: address (IPv4 in bytes 0-3, rest zero), host-order port.
  const abi::VipEntry* find_vip(const uint8_t (&address)[16], uint16_t port, abi::L4Protocol protocol) const noexcept {
    const uint32_t* index = at<uint32_t>(header().vip_index_offset);
    const abi::VipEntry* entries = at<abi::VipEntry>(header().vips_offset);
    uint64_t position = abi::vip_key_hash(address, port, protocol) & vip_index_mask_;
    for (uint32_t probes = 0; probes <= vip_index_mask_; ++probes) {
      const uint32_t value = index[position];
      if (value == abi::kVipIndexEmpty) return nullptr;
      const abi::VipEntry& vip = entries[value - 1];
      if (vip.port == port && vip.protocol == protocol && equal16(vip.address, address)) return &vip;
      position = (position + 1) & vip_index_mask_;
    }
    return nullptr;
  }

  // Some VIP on `address` (any port and protocol), or nullptr: tells "a VIP address, but
  // no VIP on that port" apart from traffic that is not ours at all.
  const abi::VipEntry* find_vip_address(const uint8_t (&address)[16]) const noexcept {
    const uint32_t* index = at<uint32_t>(header().address_index_offset);
    const abi::VipEntry* entries = at<abi::VipEntry>(header().vips_offset);
    uint64_t position = abi::vip_key_hash(address, 0, abi::L4Protocol{0}) & vip_index_mask_;
    for (uint32_t probes = 0; probes <= vip_index_mask_; ++probes) {
      const uint32_t value = index[position];
      if (value == abi::kVipIndexEmpty) return nullptr;
      const abi::VipEntry& vip = entries[value - 1];
      if (equal16(vip.address, address)) return &vip;
      position = (position + 1) & vip_index_mask_;
    }
    return nullptr;
  }
  std::span<const uint32_t> address_index() const noexcept {
    return {at<uint32_t>(header().address_index_offset), vip_index_mask_ + 1};
  }
  uint64_t flow_hash_seed() const noexcept { return header().flow_hash_seed; }

  // The backend entry with stable member id `id`, or nullptr if no such member now.
  const abi::BackendEntry* backend_with_id(uint32_t id) const noexcept {
    if (id >= max_backends_) return nullptr;
    const uint32_t position = at<uint32_t>(header().backend_by_id_offset)[id];
    if (position >= header().backend_count) return nullptr;
    return &at<abi::BackendEntry>(header().backends_offset)[position];
  }

 private:
  template <typename T>
  const T* at(uint64_t offset) const noexcept {
    return reinterpret_cast<const T*>(base_ + offset);
  }
  static bool equal16(const uint8_t (&a)[16], const uint8_t (&b)[16]) noexcept {
    uint64_t a0, a1, b0, b1;
    __builtin_memcpy(&a0, a, 8);
    __builtin_memcpy(&a1, a + 8, 8);
    __builtin_memcpy(&b0, b, 8);
    __builtin_memcpy(&b1, b + 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
  }

  const std::byte* base_ = nullptr;
  uint32_t vip_index_mask_ = 0;
  uint32_t max_backends_ = 0;
};

}  // namespace eclb
