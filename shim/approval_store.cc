#include "shim/approval_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "policy/base/files.h"
#include "shim/hmac_sha256.h"

namespace crigate::shim {
namespace {

using nlohmann::json;

constexpr size_t kMaxRecordBytes = 64 << 10;

bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

json ToJson(const ApprovalRecord& r) {
  json j = json::object();
  j["v"] = 2;
  j["expires"] = r.expires_unix;
  j["ns"] = r.containerd_namespace;
  if (r.kind == ApprovalKind::kContainer) {
    j["kind"] = "container";
    j["id"] = r.container_id;
    j["digest"] = r.spec_digest;
  } else {
    const SandboxShape& s = r.sandbox;
    j["kind"] = "sandbox";
    j["pod"] = {{"namespace", s.pod_namespace}, {"name", s.pod_name}, {"uid", s.pod_uid}};
    j["args"] = s.args;
    j["host"] = {{"network", s.host_network}, {"pid", s.host_pid}, {"ipc", s.host_ipc}};
    j["privileged"] = s.privileged;
    j["dirs"] = s.containerd_dirs;
  }
  return j;
}

bool FromJson(const json& j, ApprovalRecord* r) {
  try {
    if (j.at("v") != 2) return false;
    // An integer, never a float: converting an out-of-range float to an
    // integer is undefined behaviour (found by fuzz_approval).
    const json& expires = j.at("expires");
    if (!expires.is_number_integer()) return false;
    r->expires_unix = expires.get<int64_t>();
    r->containerd_namespace = j.at("ns").get<std::string>();
    const std::string kind = j.at("kind").get<std::string>();
    if (kind == "container") {
      r->kind = ApprovalKind::kContainer;
      r->container_id = j.at("id").get<std::string>();
      r->spec_digest = j.at("digest").get<std::string>();
      return true;
    }
    if (kind != "sandbox") return false;
    r->kind = ApprovalKind::kSandbox;
    SandboxShape& s = r->sandbox;
    s.pod_namespace = j.at("pod").at("namespace").get<std::string>();
    s.pod_name = j.at("pod").at("name").get<std::string>();
    s.pod_uid = j.at("pod").at("uid").get<std::string>();
    s.args = j.at("args").get<std::vector<std::string>>();
    s.host_network = j.at("host").at("network").get<bool>();
    s.host_pid = j.at("host").at("pid").get<bool>();
    s.host_ipc = j.at("host").at("ipc").get<bool>();
    s.privileged = j.at("privileged").get<bool>();
    s.containerd_dirs = j.at("dirs").get<std::vector<std::string>>();
    return true;
  } catch (const json::exception&) {
    return false;
  }
}

bool Mac(const ApprovalKey& key, const json& body, std::string* mac) {
  unsigned char out[kHmacSha256Bytes];
  if (!HmacSha256(key.bytes(), "crigate approval v2\n" + body.dump(), out)) return false;
  *mac = HexString(out, sizeof(out));
  OPENSSL_cleanse(out, sizeof(out));
  return true;
}

}  // namespace

base::Status OpenPrivateDir(const std::string& dir, bool create, int* fd_out) {
  if (create) {
    if (base::Status s = MakePrivateDir(dir); !s.ok()) return s;
  }
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    const int err = errno;
    return Failed("cannot open approval directory " + dir + ": " + base::ErrnoText(err));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
    close(fd);
    return Failed("directory " + dir + " must be owned by uid " + std::to_string(geteuid()) +
                  " with mode 0700");
  }
  *fd_out = fd;
  return base::Status::OK();
}

namespace {

bool WriteAll(int fd, const std::string& data) {
  size_t put = 0;
  while (put < data.size()) {
    const ssize_t n = write(fd, data.data() + put, data.size() - put);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    put += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

base::Status MakePrivateDir(const std::string& dir) {
  if (dir.empty() || dir[0] != '/') {
    return Failed("directory " + dir + " is not an absolute path");
  }
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    const std::string part = dir.substr(0, pos);
    if (mkdir(part.c_str(), pos == dir.size() ? 0700 : 0755) != 0 && errno != EEXIST) {
      const int err = errno;
      return Failed("cannot create directory " + part + ": " + base::ErrnoText(err));
    }
  }
  return base::Status::OK();
}

ShapeRules SandboxShape::Rules(const std::string& sandbox_id) const {
  ShapeRules rules;
  rules.check_args = true;
  rules.args = args;
  if (host_network) {
    rules.host_namespaces.insert("network");
  } else {
    // The pod's network namespace, which CNI set up: containerd 1.6.20 pins
    // it under its CRI state directory (<state>/netns/cni-...), older
    // releases under /var/run/netns (a symlink to /run/netns on Debian).
    for (const std::string& dir : containerd_dirs) {
      rules.network_path_prefixes.push_back(dir + "/netns/");
    }
    rules.network_path_prefixes.push_back("/var/run/netns/");
    rules.network_path_prefixes.push_back("/run/netns/");
  }
  if (host_pid) rules.host_namespaces.insert("pid");
  if (host_ipc) {
    rules.host_namespaces.insert("ipc");
    rules.bind_sources.insert("/dev/shm");
  }
  rules.privileged = privileged;
  for (const std::string& dir : containerd_dirs) {
    rules.bind_prefixes.push_back(dir);
    rules.bind_prefixes.back().append("/sandboxes/").append(sandbox_id).append("/");
  }
  return rules;
}

std::string ContainerApprovalName(const std::string& container_id) {
  if (container_id.empty() || container_id.size() > 76 || !IsIdChar(container_id[0]) ||
      container_id[0] == '.' || container_id[0] == '-') {
    return {};
  }
  for (char c : container_id) {
    if (!IsIdChar(c)) return {};
  }
  return "c-" + container_id;
}

std::string SandboxApprovalName(const std::string& pod_namespace, const std::string& pod_name,
                                const std::string& pod_uid) {
  std::string input;
  for (const std::string* part : {&pod_namespace, &pod_name, &pod_uid}) {
    input += std::to_string(part->size()) + ":" + *part + "\n";
  }
  unsigned char digest[kHmacSha256Bytes];
  if (!Sha256(input, digest)) return {};
  return "s-" + HexString(digest, sizeof(digest));
}

std::string ApprovalName(const ApprovalRecord& record) {
  if (record.kind == ApprovalKind::kContainer) return ContainerApprovalName(record.container_id);
  return SandboxApprovalName(record.sandbox.pod_namespace, record.sandbox.pod_name,
                             record.sandbox.pod_uid);
}

base::Status WriteApproval(const std::string& dir, const ApprovalKey& key,
                           const ApprovalRecord& record) {
  if (key.empty()) return Failed("no approval key loaded");
  const std::string name = ApprovalName(record);
  if (name.empty()) {
    return Failed("container id \"" + record.container_id + "\" cannot name an approval");
  }
  json body = ToJson(record);
  unsigned char nonce[12];
  if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
    return Failed("no random bytes from OpenSSL for the approval nonce");
  }
  body["nonce"] = HexString(nonce, sizeof(nonce));
  std::string mac;
  if (!Mac(key, body, &mac)) return Failed("HMAC-SHA256 failed in OpenSSL");
  body["mac"] = mac;
  const std::string text = body.dump() + "\n";

  int dir_fd = -1;
  if (base::Status s = OpenPrivateDir(dir, /*create=*/true, &dir_fd); !s.ok()) return s;
  // One temporary name per write (the nonce), so two threads writing the
  // same approval never share a file.
  const std::string tmp = ".new-" + name + "-" + body["nonce"].get<std::string>();
  const int fd =
      openat(dir_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    const int err = errno;
    close(dir_fd);
    return Failed("cannot write an approval in " + dir + ": " + base::ErrnoText(err));
  }
  const bool written = WriteAll(fd, text);
  const int write_err = written ? 0 : errno;
  close(fd);
  // /run is tmpfs: no fsync; an approval does not outlive a reboot anyway.
  if (!written || renameat(dir_fd, tmp.c_str(), dir_fd, name.c_str()) != 0) {
    const int err = written ? errno : write_err;
    unlinkat(dir_fd, tmp.c_str(), 0);
    close(dir_fd);
    return Failed("cannot write approval " + dir + "/" + name + ": " + base::ErrnoText(err));
  }
  close(dir_fd);
  return base::Status::OK();
}

base::Status TakeApproval(const std::string& dir, const std::string& name, const ApprovalKey& key,
                          int64_t now_unix, ApprovalRecord* record) {
  if (name.empty() || name.find('/') != std::string::npos || name[0] == '.') {
    return Refused("the task's id cannot name an approval");
  }
  struct stat dir_st {};
  if (lstat(dir.c_str(), &dir_st) != 0 && errno == ENOENT) {
    // No directory: crigate never approved anything here.
    return Refused("no approval: crigate did not allow this start");
  }
  int dir_fd = -1;
  if (base::Status s = OpenPrivateDir(dir, /*create=*/false, &dir_fd); !s.ok()) return s;
  // The rename is the single use: of two shims racing for one approval, one
  // gets ENOENT. What it took is gone from the directory from here on.
  const std::string taken = ".taken-" + name + "-" + std::to_string(getpid());
  if (renameat(dir_fd, name.c_str(), dir_fd, taken.c_str()) != 0) {
    const int err = errno;
    close(dir_fd);
    if (err == ENOENT) {
      return Refused(
          "no approval: crigate did not allow this start (or its approval was used already)");
    }
    return Failed("cannot take approval " + dir + "/" + name + ": " + base::ErrnoText(err));
  }
  const int fd = openat(dir_fd, taken.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  std::string text;
  if (fd >= 0) {
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0 && text.size() <= kMaxRecordBytes) {
      text.append(buf, static_cast<size_t>(n));
    }
    close(fd);
  }
  unlinkat(dir_fd, taken.c_str(), 0);
  close(dir_fd);
  return ParseApprovalRecord(text, name, key, now_unix, record);
}

base::Status ParseApprovalRecord(std::string_view text, const std::string& name,
                                 const ApprovalKey& key, int64_t now_unix, ApprovalRecord* record) {
  if (text.size() > kMaxRecordBytes) {
    return Refused("approval " + name + " is over " + std::to_string(kMaxRecordBytes) + " bytes");
  }
  json body = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object() || !body.contains("mac") ||
      !body["mac"].is_string()) {
    return Refused("approval " + name + " is not a crigate approval record");
  }
  const std::string mac = body["mac"].get<std::string>();
  body.erase("mac");
  std::string expected;
  if (!Mac(key, body, &expected)) return Failed("HMAC-SHA256 failed in OpenSSL");
  if (mac.size() != expected.size() ||
      CRYPTO_memcmp(mac.data(), expected.data(), expected.size()) != 0) {
    return Refused("approval " + name + " was not signed with this node's approval key");
  }
  ApprovalRecord r;
  if (!FromJson(body, &r)) {
    return Refused("approval " + name + " is malformed");
  }
  if (now_unix >= r.expires_unix) {
    return Refused("approval " + name + " expired (at unix time " + std::to_string(r.expires_unix) +
                   ")");
  }
  *record = std::move(r);
  return base::Status::OK();
}

base::Status SignApprovalRecordText(std::string_view json_text, const ApprovalKey& key,
                                    std::string* signed_text) {
  json body = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    return Failed("approval record text is not a JSON object");
  }
  body.erase("mac");
  std::string mac;
  if (!Mac(key, body, &mac)) return Failed("HMAC-SHA256 failed in OpenSSL");
  body["mac"] = mac;
  *signed_text = body.dump();
  return base::Status::OK();
}

bool RemoveApproval(const std::string& dir, const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos) return false;
  return unlink((dir + "/" + name).c_str()) == 0;
}

int ClearApprovals(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return 0;
  int removed = 0;
  // NOLINTNEXTLINE(concurrency-mt-unsafe): d is this call's own DIR*, which glibc makes safe
  while (const dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (unlinkat(dirfd(d), name.c_str(), 0) == 0) ++removed;
  }
  closedir(d);
  return removed;
}

}  // namespace crigate::shim
