// Flow region validation and scan.
#include "common/flow_reader.h"

#include "common/region_header.h"

#include <cstring>

namespace eclb {

Result<FlowReader> FlowReader::attach(const std::string& path) {
  auto file = MappedFile::open(path, MappedFile::Access::kReadOnly);
  if (!file) return std::move(file).context("flow region (is eclb-dataplane running?)");
  auto read = read_region_header<abi::FlowRegionHeader>(file->data(), file->size(), "flow", abi::kFlowRegionMagic,
                                                        abi::kFlowAbiMajor, abi::flow_header_checksum);
  if (!read) return std::move(read).context(path);
  const abi::FlowRegionHeader& header = *read;
  if (header.bucket_count == 0 || (header.bucket_count & (header.bucket_count - 1)) != 0 ||
      header.worker_bytes < abi::flow_worker_bytes(header.bucket_count) ||
      header.worker_offset + uint64_t{header.worker_count} * header.worker_bytes > file->size()) {
    return make_error("{}: flow region layout is inconsistent or truncated", path);
  }
  FlowReader reader;
  reader.file_ = std::move(*file);
  return reader;
}

void FlowReader::for_each(const std::function<void(const FlowRecord&)>& visit) const {
  const abi::FlowRegionHeader& h = header();
  for (uint32_t w = 0; w < h.worker_count; ++w) {
    const std::byte* block = file_.data() + h.worker_offset + w * h.worker_bytes;
    const auto* buckets = reinterpret_cast<const abi::FlowBucket*>(block + sizeof(abi::FlowWorkerHeader));
    const auto* entries = reinterpret_cast<const abi::FlowEntry*>(block + sizeof(abi::FlowWorkerHeader) +
                                                                  uint64_t{h.bucket_count} * sizeof(abi::FlowBucket));
    for (uint32_t b = 0; b < h.bucket_count; ++b) {
      abi::FlowBucket bucket;
      std::memcpy(&bucket, &buckets[b], sizeof bucket);
      for (uint32_t way = 0; way < abi::kFlowWays; ++way) {
        if (bucket.signature[way] == 0) continue;
        FlowRecord record{w, {}, bucket.state[way], bucket.last_seen_s[way]};
        std::memcpy(&record.entry, &entries[b * abi::kFlowWays + way], sizeof record.entry);
        visit(record);
      }
    }
  }
}

}  // namespace eclb
