#include "stat_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace crigate::monitor {

StatFile::Status StatusFromErrno(int error) {
  switch (error) {
    case ENODEV:
    case ENOENT:
    case ESRCH:
      return StatFile::Status::kGone;
    default:
      return StatFile::Status::kError;
  }
}

StatFile::StatFile(const std::string& path, size_t capacity, bool allow_truncation)
    : allow_truncation_(allow_truncation) {
  do {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd_ < 0 && errno == EINTR);
  if (fd_ >= 0) {
    open_status_ = Status::kOk;
    // One byte more than wanted, to tell "exactly full" from "truncated".
    buffer_.resize(capacity + 1);
  } else {
    open_status_ = errno == ENOENT ? Status::kMissing : StatusFromErrno(errno);
  }
}

StatFile::~StatFile() {
  if (fd_ >= 0) ::close(fd_);
}

StatFile::StatFile(StatFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      open_status_(other.open_status_),
      allow_truncation_(other.allow_truncation_),
      buffer_(std::move(other.buffer_)) {}

StatFile& StatFile::operator=(StatFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    open_status_ = other.open_status_;
    allow_truncation_ = other.allow_truncation_;
    buffer_ = std::move(other.buffer_);
  }
  return *this;
}

StatFile::Status StatFile::Read(std::string_view* text) {
  if (fd_ < 0) return open_status_ == Status::kOk ? Status::kError : open_status_;
  ssize_t n;
  do {
    n = ::pread(fd_, buffer_.data(), buffer_.size(), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return StatusFromErrno(errno);
  size_t length = static_cast<size_t>(n);
  if (length == buffer_.size()) {
    if (!allow_truncation_) return Status::kError;
    length = buffer_.size() - 1;
  }
  *text = std::string_view(buffer_.data(), length);
  return Status::kOk;
}

}  // namespace crigate::monitor
