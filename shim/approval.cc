#include "shim/approval.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <tuple>

#include "shim/hmac_sha256.h"

namespace crigate::shim {
namespace {

constexpr size_t kMaxApprovalKeyBytes = 4096;
constexpr size_t kNonceBytes = 12;
constexpr size_t kNonceChars = 16;  // base64url of 12 bytes
constexpr size_t kMacChars = 43;    // base64url of 32 bytes, unpadded

constexpr char kContainerType[] = "io.kubernetes.cri.container-type";
constexpr char kSandboxId[] = "io.kubernetes.cri.sandbox-id";
constexpr char kSandboxNamespace[] = "io.kubernetes.cri.sandbox-namespace";
constexpr char kSandboxName[] = "io.kubernetes.cri.sandbox-name";
constexpr char kSandboxUid[] = "io.kubernetes.cri.sandbox-uid";
constexpr char kContainerName[] = "io.kubernetes.cri.container-name";
constexpr char kImageName[] = "io.kubernetes.cri.image-name";

std::string Errno(int err) { return std::strerror(err); }

std::string Base64Url(const unsigned char* data, size_t size) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((size * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (size - i == 1) {
    uint32_t v = uint32_t{data[i]} << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (size - i == 2) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

bool IsBase64UrlChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

bool IsBase64Url(std::string_view s) { return std::all_of(s.begin(), s.end(), IsBase64UrlChar); }

bool IsFullSandboxId(const std::string& id) {
  return id.size() == 64 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

char KindLetter(ApprovalKind kind) { return kind == ApprovalKind::kSandbox ? 's' : 'c'; }
const char* KindName(ApprovalKind kind) {
  return kind == ApprovalKind::kSandbox ? "sandbox" : "container";
}

// Length-prefixed, so no choice of field contents can make two different
// field lists encode alike.
void AppendField(std::string* out, std::string_view value) {
  *out += std::to_string(value.size());
  *out += ':';
  out->append(value.data(), value.size());
  *out += '\n';
}

std::string MacInput(const ApprovalFields& f, int64_t expires_unix, std::string_view nonce) {
  std::string in = "crigate.io/approval v1\n";
  AppendField(&in, std::string_view(KindName(f.kind)));
  AppendField(&in, f.pod_namespace);
  AppendField(&in, f.pod_name);
  AppendField(&in, f.pod_uid);
  AppendField(&in, f.sandbox_id);
  AppendField(&in, f.container_name);
  AppendField(&in, f.image);
  AppendField(&in, std::to_string(expires_unix));
  AppendField(&in, nonce);
  return in;
}

bool ComputeMac(const ApprovalKey& key, const std::string& input, std::string* mac) {
  unsigned char out[kHmacSha256Bytes];
  if (!HmacSha256(key.bytes(), input, out)) return false;
  *mac = Base64Url(out, sizeof(out));
  OPENSSL_cleanse(out, sizeof(out));
  return true;
}

std::string IsoTime(int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm {};
  if (gmtime_r(&t, &tm) == nullptr) return std::to_string(unix_seconds);
  char buf[32];
  if (strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    return std::to_string(unix_seconds);
  return buf;
}

int64_t UnixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// Decimal without sign or leading zeros, as MintApproval writes it.
bool ParseExpiry(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 18 || (s.size() > 1 && s[0] == '0')) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

struct ParsedToken {
  ApprovalKind kind;
  int64_t expires_unix;
  std::string_view nonce;
  std::string_view mac;
};

bool ParseToken(std::string_view token, ParsedToken* out) {
  std::string_view parts[5];
  size_t n = 0;
  size_t start = 0;
  for (size_t i = 0; i <= token.size(); ++i) {
    if (i == token.size() || token[i] == '.') {
      if (n == 5) return false;
      parts[n++] = token.substr(start, i - start);
      start = i + 1;
    }
  }
  if (n != 5 || parts[0] != "v1") return false;
  if (parts[1] == "s") {
    out->kind = ApprovalKind::kSandbox;
  } else if (parts[1] == "c") {
    out->kind = ApprovalKind::kContainer;
  } else {
    return false;
  }
  if (!ParseExpiry(parts[2], &out->expires_unix)) return false;
  if (parts[3].size() != kNonceChars || !IsBase64Url(parts[3])) return false;
  if (parts[4].size() != kMacChars || !IsBase64Url(parts[4])) return false;
  out->nonce = parts[3];
  out->mac = parts[4];
  return true;
}

// Rank of a reference as containerd's CRI image store sorts them.
int ReferenceRank(const std::string& ref) {
  const size_t at = ref.find('@');
  const bool digested = at != std::string::npos;
  const std::string name = digested ? ref.substr(0, at) : ref;
  const size_t slash = name.rfind('/');
  const size_t colon = name.rfind(':');
  const bool tagged = colon != std::string::npos && (slash == std::string::npos || colon > slash);
  if (digested && tagged) return 1;
  if (digested) return 3;
  // "sha256:<hex>": a bare digest (the image id). A bare "name:tag" has no
  // slash either, but ImageStatus reports names fully qualified.
  if (tagged && slash == std::string::npos && name.compare(0, 7, "sha256:") == 0) return 5;
  if (tagged) return 2;
  return 4;
}

}  // namespace

ApprovalKey::~ApprovalKey() {
  if (!bytes_.empty()) OPENSSL_cleanse(bytes_.data(), bytes_.size());
}

ApprovalStatus LoadApprovalKey(const std::string& path, ApprovalKey* key, uid_t required_owner) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int err = errno;
    return ApprovalStatus::Error("cannot open approval key " + path + ": " + Errno(err));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    return ApprovalStatus::Error("cannot stat approval key " + path + ": " + Errno(err));
  }
  auto refuse = [&](std::string reason) {
    close(fd);
    return ApprovalStatus::Error("approval key " + path + " " + reason);
  };
  if (!S_ISREG(st.st_mode)) return refuse("is not a regular file");
  if (st.st_uid != required_owner) {
    return refuse("is owned by uid " + std::to_string(st.st_uid) + ", must be owned by uid " +
                  std::to_string(required_owner));
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return refuse(std::string("has mode ") + mode +
                  ": group and others must have no access (chmod 600)");
  }
  if (st.st_size < static_cast<off_t>(kMinApprovalKeyBytes) ||
      st.st_size > static_cast<off_t>(kMaxApprovalKeyBytes)) {
    return refuse("holds " + std::to_string(st.st_size) + " bytes, needs " +
                  std::to_string(kMinApprovalKeyBytes) + " to " +
                  std::to_string(kMaxApprovalKeyBytes) + " random bytes");
  }
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : 0;
      OPENSSL_cleanse(bytes.data(), bytes.size());
      return refuse(err != 0 ? "cannot be read: " + Errno(err) : "changed size while read");
    }
    got += static_cast<size_t>(n);
  }
  close(fd);
  *key = ApprovalKey(std::move(bytes));
  return ApprovalStatus::Ok();
}

ApprovalStatus CreateApprovalKey(const std::string& path) {
  unsigned char bytes[kMinApprovalKeyBytes];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return ApprovalStatus::Error("cannot create approval key: no random bytes from OpenSSL");
  }
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    const int err = errno;
    OPENSSL_cleanse(bytes, sizeof(bytes));
    return ApprovalStatus::Error("cannot create approval key " + path + ": " + Errno(err));
  }
  size_t put = 0;
  while (put < sizeof(bytes)) {
    const ssize_t n = write(fd, bytes + put, sizeof(bytes) - put);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    put += static_cast<size_t>(n);
  }
  OPENSSL_cleanse(bytes, sizeof(bytes));
  const int write_err = put == sizeof(bytes) ? 0 : (errno != 0 ? errno : EIO);
  const bool synced = write_err == 0 && fsync(fd) == 0;
  const int sync_err = synced ? 0 : errno;
  close(fd);
  if (!synced) {
    unlink(path.c_str());
    return ApprovalStatus::Error("cannot write approval key " + path + ": " +
                                 Errno(write_err != 0 ? write_err : sync_err));
  }
  return ApprovalStatus::Ok();
}

ApprovalFields SandboxApprovalFields(std::string pod_namespace, std::string pod_name,
                                     std::string pod_uid) {
  ApprovalFields f;
  f.kind = ApprovalKind::kSandbox;
  f.pod_namespace = std::move(pod_namespace);
  f.pod_name = std::move(pod_name);
  f.pod_uid = std::move(pod_uid);
  return f;
}

ApprovalFields ContainerApprovalFields(std::string pod_namespace, std::string pod_name,
                                       std::string pod_uid, std::string sandbox_id,
                                       std::string container_name, std::string image) {
  ApprovalFields f =
      SandboxApprovalFields(std::move(pod_namespace), std::move(pod_name), std::move(pod_uid));
  f.kind = ApprovalKind::kContainer;
  f.sandbox_id = std::move(sandbox_id);
  f.container_name = std::move(container_name);
  f.image = std::move(image);
  return f;
}

std::string ContainerdImageName(const std::string& image_id,
                                const std::vector<std::string>& repo_tags,
                                const std::vector<std::string>& repo_digests) {
  std::vector<std::pair<int, const std::string*>> refs;
  for (const auto& r : repo_tags) refs.emplace_back(ReferenceRank(r), &r);
  for (const auto& r : repo_digests) refs.emplace_back(ReferenceRank(r), &r);
  if (!image_id.empty()) refs.emplace_back(ReferenceRank(image_id), &image_id);
  if (refs.empty()) return {};
  const auto best = std::min_element(refs.begin(), refs.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first, *a.second) < std::tie(b.first, *b.second);
  });
  return *best->second;
}

ApprovalStatus MintApproval(const ApprovalKey& key, const ApprovalFields& fields,
                            std::chrono::seconds ttl, std::string* token,
                            std::chrono::system_clock::time_point now) {
  if (key.empty()) return ApprovalStatus::Error("cannot mint an approval: no approval key loaded");
  if (ttl.count() <= 0) return ApprovalStatus::Error("cannot mint an approval with a ttl <= 0");
  if (fields.kind == ApprovalKind::kContainer) {
    if (!IsFullSandboxId(fields.sandbox_id)) {
      return ApprovalStatus::Error("cannot mint a container approval: pod sandbox id \"" +
                                   fields.sandbox_id +
                                   "\" is not containerd's full 64-hex id (resolve it first)");
    }
    if (fields.container_name.empty() || fields.image.empty()) {
      return ApprovalStatus::Error(
          "cannot mint a container approval without a container name and an image");
    }
  } else if (!fields.sandbox_id.empty() || !fields.container_name.empty() ||
             !fields.image.empty()) {
    return ApprovalStatus::Error(
        "cannot mint a sandbox approval with container fields (sandbox id, name, image)");
  }
  unsigned char nonce_bytes[kNonceBytes];
  if (RAND_bytes(nonce_bytes, sizeof(nonce_bytes)) != 1) {
    return ApprovalStatus::Error("cannot mint an approval: no random bytes from OpenSSL");
  }
  const std::string nonce = Base64Url(nonce_bytes, sizeof(nonce_bytes));
  const int64_t expires = UnixSeconds(now) + ttl.count();
  std::string mac;
  if (!ComputeMac(key, MacInput(fields, expires, nonce), &mac)) {
    return ApprovalStatus::Error("cannot mint an approval: HMAC-SHA256 failed in OpenSSL");
  }
  *token = std::string("v1.") + KindLetter(fields.kind) + "." + std::to_string(expires) + "." +
           nonce + "." + mac;
  return ApprovalStatus::Ok();
}

ApprovalStatus VerifyApproval(const ApprovalKey& key, const ApprovalFields& from_spec,
                              std::string_view token, std::chrono::system_clock::time_point now,
                              VerifiedApproval* verified) {
  if (key.empty()) return ApprovalStatus::Error("no approval key loaded");
  ParsedToken parsed{};
  if (!ParseToken(token, &parsed)) {
    return ApprovalStatus::Refused(std::string("malformed ") + kApprovalAnnotation +
                                   " annotation (expected v1.<s|c>.<expiry>.<nonce>.<mac>)");
  }
  if (parsed.kind != from_spec.kind) {
    return ApprovalStatus::Refused(
        std::string("approval was issued for a ") + KindName(parsed.kind) + ", but this is " +
        DescribeApprovalFields(from_spec) +
        (from_spec.kind == ApprovalKind::kContainer
             ? " (the pod's approval reached a container that crigate did not approve)"
             : ""));
  }
  std::string expected;
  if (!ComputeMac(key, MacInput(from_spec, parsed.expires_unix, parsed.nonce), &expected)) {
    return ApprovalStatus::Error("HMAC-SHA256 failed in OpenSSL");
  }
  if (CRYPTO_memcmp(expected.data(), parsed.mac.data(), kMacChars) != 0) {
    return ApprovalStatus::Refused(
        "approval signature does not match " + DescribeApprovalFields(from_spec) +
        " (copied from another container or pod, altered, or signed with another key?)");
  }
  const int64_t now_unix = UnixSeconds(now);
  if (now_unix >= parsed.expires_unix) {
    return ApprovalStatus::Refused("approval expired at " + IsoTime(parsed.expires_unix) +
                                   " (now " + IsoTime(now_unix) + ")");
  }
  if (verified != nullptr) {
    verified->expires_unix = parsed.expires_unix;
    verified->id = std::string(parsed.mac);
  }
  return ApprovalStatus::Ok();
}

ApprovalStatus ApprovalFromSpecAnnotations(const std::map<std::string, std::string>& annotations,
                                           ApprovalFields* fields, std::string* token) {
  auto get = [&](const char* name) -> const std::string* {
    const auto it = annotations.find(name);
    return it == annotations.end() ? nullptr : &it->second;
  };
  const std::string* approval = get(kApprovalAnnotation);
  if (approval == nullptr) {
    return ApprovalStatus::Refused(std::string("no ") + kApprovalAnnotation +
                                   " annotation: not started through crigate");
  }
  const std::string* type = get(kContainerType);
  if (type == nullptr) {
    return ApprovalStatus::Refused(std::string("no ") + kContainerType +
                                   " annotation: not a task that containerd's CRI created");
  }
  ApprovalFields f;
  if (*type == "sandbox") {
    f.kind = ApprovalKind::kSandbox;
  } else if (*type == "container") {
    f.kind = ApprovalKind::kContainer;
  } else {
    return ApprovalStatus::Refused(std::string("unknown ") + kContainerType + " \"" + *type + "\"");
  }
  auto value = [&](const char* name) {
    const std::string* v = get(name);
    return v == nullptr ? std::string() : *v;
  };
  f.pod_namespace = value(kSandboxNamespace);
  f.pod_name = value(kSandboxName);
  f.pod_uid = value(kSandboxUid);
  if (f.kind == ApprovalKind::kContainer) {
    f.sandbox_id = value(kSandboxId);
    f.container_name = value(kContainerName);
    f.image = value(kImageName);
  }
  *fields = std::move(f);
  *token = *approval;
  return ApprovalStatus::Ok();
}

std::string DescribeApprovalFields(const ApprovalFields& fields) {
  std::string out = KindName(fields.kind);
  out += ' ';
  out += fields.pod_namespace;
  out += '/';
  out += fields.pod_name;
  if (fields.kind == ApprovalKind::kContainer) {
    out += '/';
    out += fields.container_name;
  }
  return out;
}

}  // namespace crigate::shim
