// mmap/munmap wrapper with errors that name the file.
#include "common/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace eclb {

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

MappedFile::~MappedFile() { reset(); }

void MappedFile::reset() noexcept {
  if (data_ != nullptr) munmap(data_, size_);
  if (fd_ >= 0) close(fd_);
  data_ = nullptr;
  size_ = 0;
  fd_ = -1;
}

Result<MappedFile> MappedFile::open(const std::string& path, Access access) {
  const bool writable = access == Access::kReadWrite;
  MappedFile file;
  file.path_ = path;
  file.fd_ = ::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (file.fd_ < 0) return make_error("cannot open {}: {}", path, std::strerror(errno));
  struct stat st {};
  if (fstat(file.fd_, &st) != 0) return make_error("cannot stat {}: {}", path, std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return make_error("{} is not a regular file", path);
  if (st.st_size == 0) return make_error("{} is empty", path);
  file.size_ = static_cast<size_t>(st.st_size);
  void* data = mmap(nullptr, file.size_, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, file.fd_, 0);
  if (data == MAP_FAILED) return make_error("cannot map {}: {}", path, std::strerror(errno));
  file.data_ = static_cast<std::byte*>(data);
  return file;
}

Result<MappedFile> MappedFile::create(const std::string& path, size_t bytes) {
  MappedFile file;
  file.path_ = path;
  file.fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (file.fd_ < 0) return make_error("cannot create {}: {}", path, std::strerror(errno));
  if (ftruncate(file.fd_, static_cast<off_t>(bytes)) != 0) {
    return make_error("cannot size {} to {} bytes: {}", path, bytes, std::strerror(errno));
  }
  file.size_ = bytes;
  void* data = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, file.fd_, 0);
  if (data == MAP_FAILED) return make_error("cannot map {}: {}", path, std::strerror(errno));
  file.data_ = static_cast<std::byte*>(data);
  return file;
}

}  // namespace eclb
