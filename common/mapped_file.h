// MappedFile: an mmap'ed file (a table region or any other shared segment), unmapped and
// closed on destruction. Startup/attach code only; never on the per-packet path.
#pragma once

#include <cstddef>
#include <string>

#include "common/result.h"

namespace eclb {

class MappedFile {
 public:
  enum class Access { kReadOnly, kReadWrite };

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  // Maps the whole file (MAP_SHARED). Fails with the path and errno text.
  static Result<MappedFile> open(const std::string& path, Access access);
  // Creates (or truncates) path with mode 0644, sizes it to bytes and maps it read-write.
  static Result<MappedFile> create(const std::string& path, size_t bytes);

  std::byte* data() const noexcept { return data_; }
  size_t size() const noexcept { return size_; }
  const std::string& path() const noexcept { return path_; }

 private:
  void reset() noexcept;

  std::byte* data_ = nullptr;
  size_t size_ = 0;
  int fd_ = -1;
  std::string path_;
};

}  // namespace eclb
