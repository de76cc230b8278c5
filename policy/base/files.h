// Reading files crigate is handed by path: configs, trust stores, keys,
// runtime specs. Every read is bounded, so a wrong path (a log, a device)
// fails with a message instead of filling memory, and errno is worded with
// a thread-safe call (strerror is not: reloads run beside the call threads).
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policy/base/status.h"

namespace crigate::base {

// errno as words ("No such file or directory"); safe from any thread.
std::string ErrnoText(int err);

struct ReadLimits {
  size_t max_bytes = 1 << 20;
  bool follow_symlinks = true;  // false: a symlink at path is refused (O_NOFOLLOW)
};

// The whole of a regular file. NOT_FOUND when it cannot be opened or read,
// INVALID_ARGUMENT when it is not a regular file or is larger than
// max_bytes. Messages start with the path.
Result<std::string> ReadBoundedFile(const std::string& path, ReadLimits limits = {});

// The names in a directory, sorted, without "." and "..". NOT_FOUND with
// the reason when it cannot be read.
Result<std::vector<std::string>> ListDirectory(const std::string& path);

// Key material, wiped from memory when destroyed. Move-only, so no stray
// copy outlives it.
class Secret final {
 public:
  Secret() = default;
  explicit Secret(std::string bytes) : bytes_(std::move(bytes)) {}
  Secret(Secret&& other) noexcept;
  Secret& operator=(Secret&& other) noexcept;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  ~Secret();

  const std::string& bytes() const { return bytes_; }
  // For filling a Secret made with a size: Secret(std::string(n, '\0')).
  char* mutable_data() { return bytes_.data(); }
  bool empty() const { return bytes_.empty(); }
  // Drops trailing whitespace (a key written as hex text with a newline).
  void TrimRight();

 private:
  void Wipe();
  std::string bytes_;
};

struct SecretRules {
  size_t min_bytes = 16;
  size_t max_bytes = 4096;
  // Who must own the file: by default the user this process runs as (root
  // for crigate and the shim), so nobody else can have written the key.
  uid_t owner = geteuid();
};

// A key file: a regular file (a symlink is followed, as for any path an
// operator writes in a config), owned by rules.owner, with no permission
// bits for group or others, holding min..max bytes.
// PERMISSION_DENIED for owner and mode, INVALID_ARGUMENT for type and size,
// NOT_FOUND when it cannot be read; the message names the path and the fix.
Result<Secret> ReadSecretFile(const std::string& path, SecretRules rules = {});

// Replaces dir/name with bytes, durably: dir/name.tmp is written with mode
// (umask does not narrow it; a symlink there is refused), fsync'ed, renamed
// over dir/name, and then the directory is fsync'ed. On any failure the
// .tmp file is removed and the old dir/name stays. INTERNAL with the path
// and errno text. dir_fd is the directory, open; dir names it in messages.
Status WriteFileAtomicallyAt(int dir_fd, const std::string& dir, const std::string& name,
                             std::string_view bytes, mode_t mode);
// The same for a path: its directory is opened for the call.
Status WriteFileAtomically(const std::string& path, std::string_view bytes, mode_t mode);

// A file holding one whole decimal number, with an optional final newline:
// a counter or a version crigate keeps. NOT_FOUND when it cannot be read,
// INVALID_ARGUMENT (naming the path) when it holds anything else or a value
// beyond uint64. Symlinks are refused.
Result<uint64_t> ReadDecimalFile(const std::string& path, size_t max_bytes = 64);

}  // namespace crigate::base
