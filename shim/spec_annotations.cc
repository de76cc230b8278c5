#include "shim/spec_annotations.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

namespace crigate::shim {
namespace {

ApprovalStatus ReadBounded(const std::string& path, std::string* out) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int err = errno;
    return ApprovalStatus::Error("cannot open " + path + ": " + std::strerror(err));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return ApprovalStatus::Error(path + " is not a readable regular file");
  }
  if (st.st_size > static_cast<off_t>(kMaxSpecBytes)) {
    close(fd);
    return ApprovalStatus::Error(path + " is " + std::to_string(st.st_size) +
                                 " bytes, over the limit of " + std::to_string(kMaxSpecBytes));
  }
  // Read to EOF, one byte past the limit, in case the file grew since fstat.
  out->resize(static_cast<size_t>(st.st_size) + 1);
  size_t got = 0;
  for (;;) {
    if (got == out->size()) {
      if (out->size() > kMaxSpecBytes) {
        close(fd);
        return ApprovalStatus::Error(path + " is over the limit of " +
                                     std::to_string(kMaxSpecBytes) + " bytes");
      }
      out->resize(std::min(out->size() * 2, kMaxSpecBytes + 1));
    }
    const ssize_t n = read(fd, out->data() + got, out->size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      close(fd);
      return ApprovalStatus::Error("cannot read " + path + ": " + std::strerror(err));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  close(fd);
  out->resize(got);
  return ApprovalStatus::Ok();
}

}  // namespace

ApprovalStatus ReadSpecAnnotations(const std::string& path,
                                   std::map<std::string, std::string>* annotations) {
  std::string text;
  if (ApprovalStatus s = ReadBounded(path, &text); !s.ok()) return s;
  // No exceptions: a parse error gives a discarded value.
  const nlohmann::json spec = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (spec.is_discarded() || !spec.is_object()) {
    return ApprovalStatus::Error(path + " is not a JSON object");
  }
  annotations->clear();
  const auto it = spec.find("annotations");
  if (it == spec.end() || !it->is_object()) return ApprovalStatus::Ok();
  for (const auto& [key, value] : it->items()) {
    if (value.is_string()) (*annotations)[key] = value.get<std::string>();
  }
  return ApprovalStatus::Ok();
}

}  // namespace crigate::shim
