#include "policy/audit_log.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "policy/base/files.h"
#include "policy/base/metrics.h"

namespace crigate::policy {
namespace {

using Code = base::Code;

base::Counter& WriteFailures() {
  static base::Counter& counter =
      base::DefaultRegistry()
          .Counters("crigate_audit_write_failures_total",
                    "Audit records that could not be written (the call they record is denied).")
          .With({});
  return counter;
}

int OpenAppend(const std::string& path) {
  return open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

}  // namespace

Result<std::unique_ptr<AuditLog>> AuditLog::Open(AuditOptions options, const base::Clock& clock) {
  if (options.path.empty()) return Fail(Code::INVALID_ARGUMENT, "audit log path is empty");
  int fd = OpenAppend(options.path);
  if (fd < 0) {
    return Fail(Code::UNAVAILABLE,
                fmt::format("cannot open audit log {}: {}", options.path, base::ErrnoText(errno)));
  }
  WriteFailures();  // exported from the start, at 0
  return std::unique_ptr<AuditLog>(new AuditLog(std::move(options), clock, fd));
}

AuditLog::~AuditLog() {
  if (fd_ >= 0) close(fd_);
}

uint64_t AuditLog::records() const {
  std::lock_guard lock(mu_);
  return records_;
}

uint64_t AuditLog::failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

base::Status AuditLog::OpenFile() {
  if (fd_ >= 0) return base::Status::OK();
  fd_ = OpenAppend(options_.path);
  if (fd_ < 0) {
    return Fail(Code::UNAVAILABLE,
                fmt::format("cannot open audit log {}: {}", options_.path, base::ErrnoText(errno)));
  }
  return base::Status::OK();
}

void AuditLog::ReopenIfMoved() {
  if (fd_ < 0) return;
  struct stat by_fd {
  }, by_path{};
  if (fstat(fd_, &by_fd) != 0 || !S_ISREG(by_fd.st_mode)) return;  // /dev/null and friends
  if (stat(options_.path.c_str(), &by_path) == 0 && by_path.st_ino == by_fd.st_ino &&
      by_path.st_dev == by_fd.st_dev) {
    return;
  }
  close(fd_);
  fd_ = -1;
}

void AuditLog::RotateIfNeeded(uint64_t incoming) {
  if (options_.max_bytes == 0 || fd_ < 0) return;
  struct stat st {};
  if (fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) return;
  if (uint64_t(st.st_size) + incoming <= options_.max_bytes) return;
  for (int i = options_.keep - 1; i >= 1; --i) {
    std::string from = fmt::format("{}.{}", options_.path, i);
    std::string to = fmt::format("{}.{}", options_.path, i + 1);
    if (rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) return;
  }
  if (options_.keep >= 1) {
    if (rename(options_.path.c_str(), (options_.path + ".1").c_str()) != 0) return;
  } else if (ftruncate(fd_, 0) != 0) {
    return;
  }
  close(fd_);
  fd_ = -1;
  // The next OpenFile creates the new file; if that fails the record fails.
}

base::Status AuditLog::Append(const std::string& line) {
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      if (done > 0) torn_line_ = true;
      return Fail(Code::UNAVAILABLE, fmt::format("cannot write audit log {}: {}", options_.path,
                                                 base::ErrnoText(err)));
    }
    done += static_cast<size_t>(n);
  }
  if (options_.fsync && fdatasync(fd_) != 0) {
    return Fail(Code::UNAVAILABLE,
                fmt::format("cannot sync audit log {}: {}", options_.path, base::ErrnoText(errno)));
  }
  return base::Status::OK();
}

base::Status AuditLog::Record(const nlohmann::ordered_json& record) {
  if (!record.is_object()) return Fail(Code::INTERNAL, "audit record is not a JSON object");
  std::string line;
  try {
    constexpr auto kReplace = nlohmann::ordered_json::error_handler_t::replace;
    const bool add_node = !options_.node_id.empty() && !record.contains("node");
    if (record.contains("time") && !add_node) {
      line = record.dump(-1, ' ', false, kReplace);
    } else {
      nlohmann::ordered_json stamped = {
          {"time", record.contains("time")
                       ? record["time"]
                       : nlohmann::ordered_json(base::FormatUtc(clock_.Now(), true))}};
      if (add_node) stamped["node"] = {{"id", options_.node_id}};
      for (const auto& [key, value] : record.items()) stamped[key] = value;
      line = stamped.dump(-1, ' ', false, kReplace);
    }
  } catch (const std::exception& e) {
    WriteFailures().Inc();
    return Fail(Code::INTERNAL, fmt::format("cannot encode audit record: {}", e.what()));
  }
  line += '\n';

  std::lock_guard lock(mu_);
  if (torn_line_) line.insert(line.begin(), '\n');  // end the torn line; keep this one whole
  ReopenIfMoved();
  RotateIfNeeded(line.size());
  base::Status status = OpenFile();
  if (status.ok()) status = Append(line);
  if (!status.ok()) {
    ++failures_;
    WriteFailures().Inc();
    // Reopen next time: the file may have been removed or the disk remounted.
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    return status;
  }
  torn_line_ = false;
  ++records_;
  return base::Status::OK();
}

}  // namespace crigate::policy
