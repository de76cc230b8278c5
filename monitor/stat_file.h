// One kernel statistics file (cgroup interface file or /proc file), opened
// once and re-read with pread(2) at offset 0 on every sample: kernfs and
// procfs regenerate the text on each read from offset 0, so a sample costs
// one syscall per file and no path lookup.
//
// A cgroup removed while its files are open (the container exited between
// two samples, or mid-sample) makes pread fail with ENODEV; a path that
// vanished before open gives ENOENT. Both read as kGone, never as a crash or a
// zero value.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace crigate::monitor {

class StatFile final {
 public:
  enum class Status {
    kOk,
    kMissing,  // the file did not exist at open: this kernel or controller lacks it
    kGone,     // the cgroup vanished (ENODEV, ENOENT, ESRCH)
    kError,    // any other failure, or the text did not fit the buffer
  };

  StatFile() = default;
  // Opens `path` read-only. `capacity` bounds the text kept per read; a file
  // that does not fit reads as kError unless `allow_truncation` (for /proc/stat,
  // of which only the first line is wanted).
  explicit StatFile(const std::string& path, size_t capacity = 256, bool allow_truncation = false);
  ~StatFile();
  StatFile(StatFile&& other) noexcept;
  StatFile& operator=(StatFile&& other) noexcept;
  StatFile(const StatFile&) = delete;
  StatFile& operator=(const StatFile&) = delete;

  // Status of the open; kOk when the file is open.
  Status open_status() const { return open_status_; }
  bool is_open() const { return fd_ >= 0; }

  // Reads the current text. On kOk, *text is valid until the next Read.
  Status Read(std::string_view* text);

 private:
  int fd_ = -1;
  Status open_status_ = Status::kMissing;
  bool allow_truncation_ = false;
  std::string buffer_;
};

// What a failed open or read errno means for a statistics file.
StatFile::Status StatusFromErrno(int error);

// Reads `file` and parses its text with `parse` (a function returning an
// optional). nullopt when the file is missing, unreadable or malformed; sets
// *gone when the cgroup vanished.
template <typename Parse>
auto ReadParsed(StatFile& file, Parse parse, bool* gone) -> decltype(parse(std::string_view())) {
  std::string_view text;
  StatFile::Status status = file.Read(&text);
  if (status == StatFile::Status::kGone) *gone = true;
  if (status != StatFile::Status::kOk) return std::nullopt;
  return parse(text);
}

}  // namespace crigate::monitor
