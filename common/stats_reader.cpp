// Stats region validation and summation.
#include "common/stats_reader.h"

#include "common/region_header.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "common/shared_atomic.h"
#include "common/table_reader.h"

namespace eclb {

Result<StatsReader> StatsReader::attach(const std::string& path) {
  auto file = MappedFile::open(path, MappedFile::Access::kReadOnly);
  if (!file) return std::move(file).context("stats region (is eclb-dataplane running?)");
  auto read = read_region_header<abi::StatsHeader>(file->data(), file->size(), "stats", abi::kStatsRegionMagic,
                                                   abi::kStatsAbiMajor, abi::stats_header_checksum);
  if (!read) return std::move(read).context(path);
  const abi::StatsHeader& header = *read;
  if (header.lcore_bytes < abi::stats_lcore_bytes(header.max_vips, header.max_backends) ||
      header.lcore_offset + uint64_t{header.lcore_count} * header.lcore_bytes > file->size() ||
      header.drop_slots != abi::kDropReasonSlots) {
    return make_error("{}: stats region layout is inconsistent or truncated", path);
  }
  if (header.prologue.abi_minor >= 2 &&
      (header.slow_path_offset + sizeof(abi::SlowPathStats) > file->size() || header.port_bytes < sizeof(abi::PortStats) ||
       header.port_offset + uint64_t{header.port_count} * header.port_bytes > file->size())) {
    return make_error("{}: stats region layout is inconsistent or truncated", path);
  }
  StatsReader reader;
  reader.file_ = std::move(*file);
  return reader;
}

StatsTotals StatsReader::read() const {
  const abi::StatsHeader& h = header();
  StatsTotals totals;
  totals.vips.assign(h.max_vips, abi::VipStats{});
  totals.backends.assign(h.max_backends, abi::BackendStats{});
  constexpr size_t kWords = sizeof(abi::LcoreStats) / sizeof(uint64_t);
  auto sum_words = [](uint64_t* into, const std::byte* from, size_t words) {
    const auto* source = reinterpret_cast<const uint64_t*>(from);
    for (size_t i = 0; i < words; ++i) into[i] += load_relaxed(&source[i]);
  };
  for (uint32_t l = 0; l < h.lcore_count; ++l) {
    const std::byte* block = file_.data() + h.lcore_offset + l * h.lcore_bytes;
    abi::LcoreStats one{};
    sum_words(reinterpret_cast<uint64_t*>(&one), block, kWords);
    totals.per_lcore.push_back(one);
    sum_words(reinterpret_cast<uint64_t*>(&totals.lcore), block, kWords);
    sum_words(reinterpret_cast<uint64_t*>(totals.vips.data()), block + sizeof(abi::LcoreStats),
              h.max_vips * sizeof(abi::VipStats) / sizeof(uint64_t));
    sum_words(reinterpret_cast<uint64_t*>(totals.backends.data()),
              block + sizeof(abi::LcoreStats) + h.max_vips * sizeof(abi::VipStats),
              h.max_backends * sizeof(abi::BackendStats) / sizeof(uint64_t));
  }
  if (h.prologue.abi_minor >= 2) {
    const auto* slow = reinterpret_cast<const abi::SlowPathStats*>(file_.data() + h.slow_path_offset);
    sum_words(reinterpret_cast<uint64_t*>(&totals.slow_path), reinterpret_cast<const std::byte*>(slow),
              sizeof(abi::SlowPathStats) / sizeof(uint64_t));
    totals.lcore.drops[static_cast<uint32_t>(abi::DropReason::kSlowPathDrop)] += totals.slow_path.dropped;
    for (uint32_t p = 0; p < h.port_count; ++p) {
      const auto* port = reinterpret_cast<const abi::PortStats*>(file_.data() + h.port_offset + p * h.port_bytes);
      PortTotals one;
      one.port_id = load_relaxed(&port->port_id);
      one.driver.assign(port->driver, strnlen(port->driver, sizeof port->driver));
      one.ipackets = load_relaxed(&port->ipackets);
      one.opackets = load_relaxed(&port->opackets);
      one.ibytes = load_relaxed(&port->ibytes);
      one.obytes = load_relaxed(&port->obytes);
      one.imissed = load_relaxed(&port->imissed);
      one.ierrors = load_relaxed(&port->ierrors);
      one.oerrors = load_relaxed(&port->oerrors);
      one.rx_nombuf = load_relaxed(&port->rx_nombuf);
      const uint32_t xstats = std::min(load_relaxed(&port->xstat_count), abi::kMaxPortXstats);
      for (uint32_t i = 0; i < xstats; ++i) {
        const abi::PortXstat& x = port->xstats[i];
        one.xstats.emplace_back(std::string(x.name, strnlen(x.name, sizeof x.name)), load_relaxed(&x.value));
      }
      totals.ports.push_back(std::move(one));
    }
  }
  // table_generation is not a counter: report the lowest generation any lcore uses.
  totals.lcore.table_generation = adopted_generation();
  return totals;
}

uint64_t StatsReader::adopted_generation() const noexcept {
  const abi::StatsHeader& h = header();
  uint64_t lowest = UINT64_MAX;
  for (uint32_t l = 0; l < h.lcore_count; ++l) {
    const auto* lcore = reinterpret_cast<const abi::LcoreStats*>(file_.data() + h.lcore_offset + l * h.lcore_bytes);
    lowest = std::min(lowest, load_relaxed(&lcore->table_generation));
  }
  return h.lcore_count == 0 ? 0 : lowest;
}

uint64_t StatsReader::heartbeat_age_ms() const noexcept {
  const auto now = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  const uint64_t beat = load_relaxed(&header().heartbeat_unix_ns);
  return now > beat ? (now - beat) / 1000000 : 0;
}

bool StatsReader::writer_alive() const noexcept {
  const uint64_t pid = load_relaxed(&header().dataplane_pid);
  return pid != 0 && !reader_process_gone(static_cast<uint32_t>(pid));
}

}  // namespace eclb
