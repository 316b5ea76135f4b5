// Region creation/adoption, stable id assignment and the publish protocol.
#include "control/publish/table_writer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <thread>
#include <utility>

#include "common/shared_atomic.h"
#include "common/table_reader.h"

namespace eclb::ctl {
namespace {

uint64_t unix_now_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

void copy_name(char* out, size_t bytes, const std::string& name) {
  std::memset(out, 0, bytes);
  std::memcpy(out, name.data(), std::min(name.size(), bytes - 1));
}

void copy_address(uint8_t (&out)[16], const IpAddress& address) {
  std::memcpy(out, address.bytes.data(), 16);
}

Result<void> create_region(const std::string& path, const TableLayout& layout) {
  const std::string temporary = path + ".new";
  {
    auto file = MappedFile::create(temporary, layout.region_bytes);
    if (!file) return std::move(file).error();
    abi::RegionHeader header{};
    header.prologue = abi::make_prologue(abi::kTableRegionMagic, abi::kTableAbiMajor, abi::kTableAbiMinor,
                                         sizeof(abi::RegionHeader), layout.region_bytes);
    header.copy_count = abi::kTableCopies;
    header.max_vips = layout.capacity.max_vips;
    header.max_backends = layout.capacity.max_backends;
    header.max_readers = layout.capacity.max_readers;
    header.max_table_slots = layout.capacity.max_table_slots;
    for (uint32_t i = 0; i < abi::kTableCopies; ++i) header.copy_offset[i] = layout.copy_offset[i];
    header.copy_bytes = layout.copy_bytes;
    header.reader_offset = layout.reader_offset;
    header.vip_index_capacity = layout.vip_index_capacity;
    header.next_incarnation = 1;
    header.prologue.checksum = abi::table_header_checksum(header);
    std::memcpy(file->data(), &header, sizeof header);
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    std::remove(temporary.c_str());
    return make_error("cannot rename {} to {}: {}", temporary, path, std::strerror(error));
  }
  return success();
}

}  // namespace

Result<TableWriter> TableWriter::open(const Options& options) {
  auto layout = TableLayout::compute(options.capacity);
  if (!layout) return std::move(layout).context("table capacity");

  TableWriter writer;
  writer.options_ = options;
  const std::string lock_path = options.path + ".lock";
  writer.lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (writer.lock_fd_ < 0) return make_error("cannot open {}: {}", lock_path, std::strerror(errno));
  if (flock(writer.lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return make_error("{} is locked: another eclb-control is publishing to {}", lock_path, options.path);
  }

  auto existing = TableSegment::attach(options.path, MappedFile::Access::kReadWrite);
  if (existing && existing->layout().capacity == options.capacity) {
    writer.segment_ = std::move(*existing);
    writer.adopted_ = true;
    writer.learn_ids_from_active_copy();
    return writer;
  }
  if (auto created = create_region(options.path, *layout); !created) return std::move(created).error();
  if (existing) store_release(&existing->mutable_header().retired, 1u);  // readers re-attach
  auto segment = TableSegment::attach(options.path, MappedFile::Access::kReadWrite);
  if (!segment) return std::move(segment).context("re-reading the new table region");
  writer.segment_ = std::move(*segment);
  return writer;
}

TableWriter::TableWriter(TableWriter&& other) noexcept
    : segment_(std::move(other.segment_)),
      options_(std::move(other.options_)),
      lock_fd_(std::exchange(other.lock_fd_, -1)),
      adopted_(other.adopted_),
      vip_ids_(std::move(other.vip_ids_)),
      member_ids_(std::move(other.member_ids_)) {}

TableWriter& TableWriter::operator=(TableWriter&& other) noexcept {
  if (this != &other) {
    if (lock_fd_ >= 0) ::close(lock_fd_);
    segment_ = std::move(other.segment_);
    options_ = std::move(other.options_);
    lock_fd_ = std::exchange(other.lock_fd_, -1);
    adopted_ = other.adopted_;
    vip_ids_ = std::move(other.vip_ids_);
    member_ids_ = std::move(other.member_ids_);
  }
  return *this;
}

TableWriter::~TableWriter() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

void TableWriter::learn_ids_from_active_copy() {
  const uint64_t generation = segment_.generation();
  if (generation == 0) return;
  const TableView view = segment_.copy_view(static_cast<uint32_t>(generation % abi::kTableCopies));
  if (!validate_copy(view, segment_.layout())) return;  // corrupt: start ids afresh
  for (const abi::VipEntry& vip : view.vips()) {
    const Endpoint vip_endpoint{IpAddress::from_bytes(vip.family, vip.address), vip.port};
    vip_ids_[{vip_endpoint, vip.protocol}] = vip.id;
    for (const abi::BackendEntry& member : view.backends_of(vip)) {
      const Endpoint member_endpoint{IpAddress::from_bytes(member.family, member.address), member.port};
      member_ids_[{vip_endpoint, vip.protocol, member_endpoint}] = {member.id, member.incarnation};
    }
  }
}

Result<void> TableWriter::check_fits(const TableContent& content) const {
  const TableCapacity& capacity = segment_.layout().capacity;
  if (content.vips.size() > capacity.max_vips) {
    return make_error("{} VIPs exceed the region's max_vips {}", content.vips.size(), capacity.max_vips);
  }
  uint64_t members = 0;
  uint64_t slots = 0;
  std::set<VipKey> keys;
  for (const VipContent& vip : content.vips) {
    if (!keys.emplace(vip.endpoint, vip.protocol).second) {
      return make_error("duplicate VIP {} {}", static_cast<int>(vip.protocol), vip.endpoint.to_string());
    }
    if (vip.name.empty() || vip.name.size() >= abi::kVipNameBytes) return make_error("bad VIP name \"{}\"", vip.name);
    if (vip.slots.size() != vip.table_size || vip.table_size == 0 || vip.table_size > abi::kMaxTableSize) {
      return make_error("vip \"{}\": {} slots for table size {}", vip.name, vip.slots.size(), vip.table_size);
    }
    std::set<Endpoint> endpoints;
    for (const MemberContent& member : vip.members) {
      if (member.name.empty() || member.name.size() >= abi::kBackendNameBytes) {
        return make_error("vip \"{}\": bad backend name \"{}\"", vip.name, member.name);
      }
      if (!endpoints.insert(member.endpoint).second) {
        return make_error("vip \"{}\": duplicate member {}", vip.name, member.endpoint.to_string());
      }
    }
    for (const uint32_t slot : vip.slots) {
      if (slot == abi::kNoBackend) continue;
      if (slot >= vip.members.size() || vip.members[slot].state != abi::BackendState::kUp) {
        return make_error("vip \"{}\": slot refers to member {} which is not an up member", vip.name, slot);
      }
    }
    members += vip.members.size();
    slots += vip.table_size;
  }
  if (members > capacity.max_backends) {
    return make_error("{} VIP members exceed the region's max_backends {}", members, capacity.max_backends);
  }
  if (slots > capacity.max_table_slots) {
    return make_error("{} table slots exceed the region's max_table_slots {}", slots, capacity.max_table_slots);
  }
  return success();
}

PublishReport TableWriter::wait_for_readers(uint64_t needed) {
  PublishReport report;
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + options_.grace;
  auto* slots = reinterpret_cast<abi::ReaderSlot*>(segment_.base() + segment_.layout().reader_offset);
  const uint32_t reader_count = segment_.layout().capacity.max_readers;
  auto pause = std::chrono::microseconds(20);
  for (;;) {
    uint32_t pending = 0;
    const bool expired = std::chrono::steady_clock::now() >= deadline;
    for (uint32_t i = 0; i < reader_count; ++i) {
      abi::ReaderSlot& slot = slots[i];
      uint32_t pid = load_acquire(&slot.pid);
      if (pid == 0 || load_acquire(&slot.state) != static_cast<uint32_t>(abi::ReaderState::kActive)) continue;
      // Acquire pairs with the reader's release store: its reads of the old copy are done.
      if (load_acquire(&slot.seen_generation) >= needed) continue;
      if (reader_process_gone(pid)) {
        if (compare_exchange(&slot.pid, pid, 0u)) ++report.readers_reaped;
        continue;
      }
      if (expired) {
        uint32_t active = static_cast<uint32_t>(abi::ReaderState::kActive);
        if (compare_exchange(&slot.state, active, static_cast<uint32_t>(abi::ReaderState::kEvicted))) {
          fetch_add_relaxed(&slot.evictions, uint64_t{1});
          ++report.readers_evicted;
        }
        continue;
      }
      ++pending;
    }
    if (pending == 0) break;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(1000));
  }
  report.waited = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
  return report;
}

Result<PublishReport> TableWriter::publish(const TableContent& content) {
  if (auto fits = check_fits(content); !fits) return std::move(fits).context("publish");
  const TableLayout& layout = segment_.layout();
  abi::RegionHeader& header = segment_.mutable_header();
  const uint64_t current = segment_.generation();
  const uint64_t next = current + 1;

  // Stable ids: reuse what each VIP and member had; new ones get the lowest free id and,
  // for members, a fresh incarnation so stale flow entries never match them.
  std::map<VipKey, uint32_t> vip_ids;
  std::map<MemberKey, MemberId> member_ids;
  std::vector<uint8_t> vip_id_used(layout.capacity.max_vips, 0);
  std::vector<uint8_t> member_id_used(layout.capacity.max_backends, 0);
  for (const VipContent& vip : content.vips) {
    if (auto it = vip_ids_.find({vip.endpoint, vip.protocol}); it != vip_ids_.end()) vip_id_used[it->second] = 1;
    for (const MemberContent& member : vip.members) {
      if (auto it = member_ids_.find({vip.endpoint, vip.protocol, member.endpoint}); it != member_ids_.end()) {
        member_id_used[it->second.id] = 1;
      }
    }
  }
  uint32_t next_free_vip = 0;
  uint32_t next_free_member = 0;
  for (const VipContent& vip : content.vips) {
    const VipKey key{vip.endpoint, vip.protocol};
    if (auto it = vip_ids_.find(key); it != vip_ids_.end()) {
      vip_ids[key] = it->second;
    } else {
      while (vip_id_used[next_free_vip]) ++next_free_vip;
      vip_id_used[next_free_vip] = 1;
      vip_ids[key] = next_free_vip;
    }
    for (const MemberContent& member : vip.members) {
      const MemberKey member_key{vip.endpoint, vip.protocol, member.endpoint};
      if (auto it = member_ids_.find(member_key); it != member_ids_.end()) {
        member_ids[member_key] = it->second;
      } else {
        while (member_id_used[next_free_member]) ++next_free_member;
        member_id_used[next_free_member] = 1;
        member_ids[member_key] = {next_free_member, static_cast<uint32_t>(header.next_incarnation++)};
      }
    }
  }

  PublishReport report = wait_for_readers(current);
  report.generation = next;

  std::byte* copy = segment_.base() + layout.copy_offset[next % abi::kTableCopies];
  auto* copy_header = reinterpret_cast<abi::CopyHeader*>(copy);
  // Mark the copy as being written, then fence so no data store below becomes visible
  // before the mark (pairs with the snapshot reader's acquire fence and re-check).
  store_relaxed(&copy_header->generation, uint64_t{0});
  std::atomic_thread_fence(std::memory_order_release);

  auto* vips = reinterpret_cast<abi::VipEntry*>(copy + layout.vips_offset);
  auto* backends = reinterpret_cast<abi::BackendEntry*>(copy + layout.backends_offset);
  auto* vip_index = reinterpret_cast<uint32_t*>(copy + layout.vip_index_offset);
  auto* address_index = reinterpret_cast<uint32_t*>(copy + layout.address_index_offset);
  auto* backend_by_id = reinterpret_cast<uint32_t*>(copy + layout.backend_by_id_offset);
  auto* slots = reinterpret_cast<abi::SlotValue*>(copy + layout.slots_offset);
  std::memset(vip_index, 0, sizeof(uint32_t) * layout.vip_index_capacity);
  std::memset(address_index, 0, sizeof(uint32_t) * layout.vip_index_capacity);
  std::fill_n(backend_by_id, layout.capacity.max_backends, abi::kNoBackend);

  uint32_t backend_position = 0;
  uint64_t slot_position = 0;
  const uint32_t index_mask = layout.vip_index_capacity - 1;
  for (uint32_t v = 0; v < content.vips.size(); ++v) {
    const VipContent& in = content.vips[v];
    abi::VipEntry& vip = vips[v];
    std::memset(&vip, 0, sizeof vip);
    copy_address(vip.address, in.endpoint.address);
    vip.port = in.endpoint.port;
    vip.family = in.endpoint.address.family;
    vip.protocol = in.protocol;
    vip.mode = in.mode;
    vip.table_size = in.table_size;
    vip.backend_first = backend_position;
    vip.backend_count = static_cast<uint32_t>(in.members.size());
    vip.slots_first = slot_position;
    vip.id = vip_ids[{in.endpoint, in.protocol}];
    copy_name(vip.name, sizeof vip.name, in.name);

    std::vector<uint32_t> owned(in.members.size(), 0);
    for (const uint32_t slot : in.slots) {
      if (slot != abi::kNoBackend) ++owned[slot];
    }
    for (uint32_t m = 0; m < in.members.size(); ++m) {
      const MemberContent& member_in = in.members[m];
      abi::BackendEntry& member = backends[backend_position + m];
      std::memset(&member, 0, sizeof member);
      copy_address(member.address, member_in.endpoint.address);
      member.port = member_in.endpoint.port;
      member.family = member_in.endpoint.address.family;
      member.state = member_in.state;
      member.weight = member_in.weight;
      const MemberId id = member_ids[{in.endpoint, in.protocol, member_in.endpoint}];
      member.id = id.id;
      member.incarnation = id.incarnation;
      member.slot_count = owned[m];
      member.vip_position = v;
      copy_name(member.name, sizeof member.name, member_in.name);
      backend_by_id[id.id] = backend_position + m;
      vip.up_count += member_in.state == abi::BackendState::kUp;
    }
    std::memcpy(slots + slot_position, in.slots.data(), in.slots.size() * sizeof(abi::SlotValue));

    backend_position += vip.backend_count;
    slot_position += in.table_size;
    // L7 VIPs belong to eclb-control's proxy: the dataplane must not match them.
    if (vip.mode == abi::ForwardMode::kL7Proxy) continue;
    uint64_t position = abi::vip_key_hash(vip.address, vip.port, vip.protocol) & index_mask;
    while (vip_index[position] != abi::kVipIndexEmpty) position = (position + 1) & index_mask;
    vip_index[position] = v + 1;
    // One address_index entry per distinct VIP address.
    position = abi::vip_key_hash(vip.address, 0, abi::L4Protocol{0}) & index_mask;
    bool address_known = false;
    while (address_index[position] != abi::kVipIndexEmpty) {
      address_known = address_known || std::memcmp(vips[address_index[position] - 1].address, vip.address, 16) == 0;
      position = (position + 1) & index_mask;
    }
    if (!address_known) address_index[position] = v + 1;
  }

  copy_header->used_bytes = layout.slots_offset + slot_position * sizeof(abi::SlotValue);
  copy_header->vip_count = static_cast<uint32_t>(content.vips.size());
  copy_header->backend_count = backend_position;
  copy_header->slot_count = slot_position;
  copy_header->vips_offset = layout.vips_offset;
  copy_header->backends_offset = layout.backends_offset;
  copy_header->vip_index_offset = layout.vip_index_offset;
  copy_header->address_index_offset = layout.address_index_offset;
  copy_header->flow_hash_seed = content.flow_hash_seed;
  copy_header->backend_by_id_offset = layout.backend_by_id_offset;
  copy_header->slots_offset = layout.slots_offset;
  copy_header->built_unix_ns = unix_now_ns();
  copy_header->checksum = copy_checksum(copy, copy_header->used_bytes);
  report.used_bytes = copy_header->used_bytes;

  store_release(&copy_header->generation, next);
  store_relaxed(&header.writer_pid, static_cast<uint64_t>(getpid()));
  store_relaxed(&header.publish_unix_ns, unix_now_ns());
  // Release: a reader that loads `next` with acquire sees the whole copy written above.
  store_release(&header.prologue.generation, next);

  vip_ids_ = std::move(vip_ids);
  member_ids_ = std::move(member_ids);
  return report;
}

}  // namespace eclb::ctl
