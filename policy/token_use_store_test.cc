#include "policy/token_use_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "policy/testing.h"

namespace crigate::policy {
namespace {

using std::chrono::seconds;
using testing::TempDir;
using Outcome = TokenUseStore::Outcome;

const base::WallTime kT0 = base::FromUnixSeconds(1'790'000'000);
// SHA-256("abc"), FIPS 180-2 appendix B.1.
const char kAbcDigest[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

std::unique_ptr<TokenUseStore> OpenOrDie(const std::string& path, size_t capacity = 100,
                                         base::WallTime now = kT0) {
  auto store = TokenUseStore::Open(path, capacity, now);
  EXPECT_TRUE(store.ok()) << store.error();
  return store.ok() ? std::move(*store) : nullptr;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

off_t FileSize(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

// Reserves and commits key, expiring at kT0 + ttl.
void Use(TokenUseStore& store, const std::string& key, seconds ttl = seconds(60)) {
  ASSERT_EQ(store.Reserve(key, kT0 + ttl, kT0), Outcome::kReserved) << key;
  base::Status status = store.Commit(key);
  ASSERT_TRUE(status.ok()) << status.message();
}

TEST(TokenUseStoreTest, CommittedUseIsAReplay) {
  TempDir dir;
  auto store = OpenOrDie(dir.path() + "/uses");
  ASSERT_TRUE(store);
  EXPECT_EQ(store->Reserve("a", kT0 + seconds(60), kT0), Outcome::kReserved);
  ASSERT_TRUE(store->Commit("a").ok());
  EXPECT_EQ(store->Reserve("a", kT0 + seconds(60), kT0 + seconds(59)), Outcome::kReplayed);
  EXPECT_EQ(store->Reserve("b", kT0 + seconds(60), kT0), Outcome::kReserved);
  EXPECT_EQ(store->size(), 2u);
  EXPECT_EQ(Lines(dir.path() + "/uses").size(), 1u);  // only the commit is written
}

TEST(TokenUseStoreTest, HeldReservationIsAReplay) {
  TempDir dir;
  auto store = OpenOrDie(dir.path() + "/uses");
  ASSERT_TRUE(store);
  EXPECT_EQ(store->Reserve("a", kT0 + seconds(60), kT0), Outcome::kReserved);
  EXPECT_EQ(store->Reserve("a", kT0 + seconds(60), kT0), Outcome::kReplayed);
  // Committing the first reservation works; the second call never held one.
  EXPECT_TRUE(store->Commit("a").ok());
  EXPECT_EQ(store->Commit("a").code(), base::Code::FAILED_PRECONDITION);
}

TEST(TokenUseStoreTest, ConcurrentReservationsOfOneKeyReserveExactlyOne) {
  TempDir dir;
  auto store = OpenOrDie(dir.path() + "/uses", 1000);
  ASSERT_TRUE(store);
  std::atomic<int> reserved{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        const std::string key = "key-" + std::to_string(i);
        if (store->Reserve(key, kT0 + seconds(60), kT0) == Outcome::kReserved) {
          reserved.fetch_add(1);
          EXPECT_TRUE(store->Commit(key).ok());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(reserved.load(), 100);
  EXPECT_EQ(store->size(), 100u);
  EXPECT_EQ(Lines(dir.path() + "/uses").size(), 100u);
}

TEST(TokenUseStoreTest, ReleasedReservationCanBeReservedAgain) {
  TempDir dir;
  const std::string path = dir.path() + "/uses";
  auto store = OpenOrDie(path);
  ASSERT_TRUE(store);
  ASSERT_EQ(store->Reserve("a", kT0 + seconds(60), kT0), Outcome::kReserved);
  EXPECT_TRUE(store->Release("a").ok());
  EXPECT_EQ(store->size(), 0u);
  EXPECT_EQ(FileSize(path), 0);  // a reservation never reaches the file
  EXPECT_EQ(store->Reserve("a", kT0 + seconds(60), kT0), Outcome::kReserved);
  EXPECT_EQ(store->Commit("b").code(), base::Code::FAILED_PRECONDITION);
  EXPECT_TRUE(store->Release("never-seen").ok());
}

TEST(TokenUseStoreTest, ReleaseOfACommittedUseSurvivesReopen) {
  TempDir dir;
  const std::string path = dir.path() + "/uses";
  {
    auto store = OpenOrDie(path);
    ASSERT_TRUE(store);
    Use(*store, "a");
    Use(*store, "b");
    ASSERT_TRUE(store->Release("a").ok());
    EXPECT_EQ(store->Reserve("a", kT0 + seconds(60), kT0), Outcome::kReserved);
    EXPECT_TRUE(store->Release("a").ok());  // the reservation only
  }
  auto store = OpenOrDie(path);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->size(), 1u);
  EXPECT_EQ(store->Reserve("a", kT0 + seconds(60), kT0), Outcome::kReserved);
  EXPECT_EQ(store->Reserve("b", kT0 + seconds(60), kT0), Outcome::kReplayed);
}

TEST(TokenUseStoreTest, CommitSurvivesDestructionWithoutClose) {
  TempDir dir;
  const std::string path = dir.path() + "/uses";
  auto store = OpenOrDie(path);
  ASSERT_TRUE(store);
  Use(*store, "a");
  ASSERT_EQ(store->Reserve("reserved-only", kT0 + seconds(60), kT0), Outcome::kReserved);
  store.reset();
  store = OpenOrDie(path);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->Reserve("a", kT0 + seconds(60), kT0), Outcome::kReplayed);
  EXPECT_EQ(store->Reserve("reserved-only", kT0 + seconds(60), kT0), Outcome::kReserved);
}

TEST(TokenUseStoreTest, CommitSurvivesSigkill) {
  TempDir dir;
  const std::string path = dir.path() + "/uses";
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto store = TokenUseStore::Open(path, 100, kT0);
    if (!store.ok()) _exit(1);
    if ((*store)->Reserve("a", kT0 + seconds(60), kT0) != Outcome::kReserved) _exit(2);
    if (!(*store)->Commit("a").ok()) _exit(3);
    if ((*store)->Reserve("b", kT0 + seconds(60), kT0) != Outcome::kReserved) _exit(4);
    kill(getpid(), SIGKILL);  // between b's reserve and its commit
    _exit(5);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "child exited with " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  auto store = OpenOrDie(path);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->Reserve("a", kT0 + seconds(60), kT0), Outcome::kReplayed);
  EXPECT_EQ(store->Reserve("b", kT0 + seconds(60), kT0), Outcome::kReserved);
}

TEST(TokenUseStoreTest, ExpiredUsesAreDroppedInMemoryAndOnReopen) {
  TempDir dir;
  const std::string path = dir.path() + "/uses";
  {
    auto store = OpenOrDie(path);
    ASSERT_TRUE(store);
    Use(*store, "short", seconds(60));
    Use(*store, "long", seconds(600));
    // At exactly its expiry a use still counts; after it, it is gone.
    EXPECT_EQ(store->Reserve("short", kT0 + seconds(60), kT0 + seconds(60)), Outcome::kReplayed);
    EXPECT_EQ(store->Reserve("other", kT0 + seconds(90), kT0 + seconds(61)), Outcome::kReserved);
    EXPECT_EQ(store->size(), 2u);  // long + other; short dropped
    EXPECT_EQ(store->Reserve("short", kT0 + seconds(120), kT0 + seconds(61)), Outcome::kReserved);
  }
  {
    // Reopened at kT0 + 59: both committed uses are still live.
    auto store = OpenOrDie(path, 100, kT0 + seconds(59));
    ASSERT_TRUE(store);
    EXPECT_EQ(store->size(), 2u);
  }
  auto store = OpenOrDie(path, 100, kT0 + seconds(61));
  ASSERT_TRUE(store);
  EXPECT_EQ(store->size(), 1u);
  EXPECT_EQ(Lines(path).size(), 1u);  // the compaction at Open wrote only "long"
  EXPECT_EQ(store->Reserve("short", kT0 + seconds(120), kT0 + seconds(61)), Outcome::kReserved);
  EXPECT_EQ(store->Reserve("long", kT0 + seconds(600), kT0 + seconds(61)), Outcome::kReplayed);
}

TEST(TokenUseStoreTest, FullStoreRefusesInsteadOfForgetting) {
  TempDir dir;
  const std::string path = dir.path() + "/uses";
  {
    auto store = OpenOrDie(path, 2);
    ASSERT_TRUE(store);
    Use(*store, "a", seconds(60));
    ASSERT_EQ(store->Reserve("b", kT0 + seconds(90), kT0), Outcome::kReserved);  // held, counts
    EXPECT_EQ(store->Reserve("c", kT0 + seconds(60), kT0), Outcome::kFull);
    EXPECT_EQ(store->Reserve("a", kT0 + seconds(60), kT0), Outcome::kReplayed);  // not evicted
    ASSERT_TRUE(store->Commit("b").ok());
    EXPECT_EQ(store->Reserve("c", kT0 + seconds(120), kT0 + seconds(61)), Outcome::kReserved);
    EXPECT_EQ(store->Reserve("b", kT0 + seconds(90), kT0 + seconds(61)), Outcome::kReplayed);
  }
  // A smaller capacity after a restart keeps every use read back, and refuses new ones.
  auto store = OpenOrDie(path, 1, kT0);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->size(), 2u);
  EXPECT_EQ(store->Reserve("d", kT0 + seconds(60), kT0), Outcome::kFull);
  EXPECT_EQ(store->Reserve("a", kT0 + seconds(60), kT0), Outcome::kReplayed);
}

TEST(TokenUseStoreTest, TornLastLineIsIgnoredAndCut) {
  TempDir dir;
  const std::string digest_b(64, 'b');
  const std::string whole = "U 1790000060000 " + std::string(kAbcDigest) + "\n";
  for (const std::string& torn : {"U 1790000060000 " + digest_b.substr(0, 20),  // no newline
                                  std::string("U 17900\n"),                     // unparsable
                                  std::string("\n")}) {
    SCOPED_TRACE(torn);
    const std::string path = dir.Write("uses", whole + torn);
    {
      auto store = OpenOrDie(path);
      ASSERT_TRUE(store);
      EXPECT_EQ(store->size(), 1u);
      EXPECT_EQ(ReadFile(path), whole);  // cut at Open
      EXPECT_EQ(store->Reserve("abc", kT0 + seconds(60), kT0), Outcome::kReplayed);
      Use(*store, "next");
    }
    auto store = OpenOrDie(path);
    ASSERT_TRUE(store);
    EXPECT_EQ(store->size(), 2u);
    EXPECT_EQ(store->Reserve("next", kT0 + seconds(60), kT0), Outcome::kReplayed);
  }
}

TEST(TokenUseStoreTest, CorruptLineBeforeTheLastFailsOpenNamingIt) {
  TempDir dir;
  const std::string use = "U 1790000060000 " + std::string(kAbcDigest) + "\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"X " + std::string(kAbcDigest) + "\n", "unknown record type"},
      {"U 12x " + std::string(kAbcDigest) + "\n", "bad expiry"},
      {"U -1 " + std::string(kAbcDigest) + "\n", "bad expiry"},
      {"R " + std::string(63, 'a') + "\n", "bad digest"},
      {"R " + std::string(64, 'A') + "\n", "bad digest"},
      {"\n", "not a record"},
  };
  for (const auto& [bad, why] : cases) {
    SCOPED_TRACE(bad);
    const std::string content = use + bad + use;
    const std::string path = dir.Write("uses", content);
    auto store = TokenUseStore::Open(path, 100, kT0);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.code(), base::Code::DATA_LOSS);
    EXPECT_NE(store.error().find("token use file " + path + " line 2 is corrupt (" + why + ")"),
              std::string::npos)
        << store.error();
    EXPECT_EQ(ReadFile(path), content);  // left as it was for the operator
  }
  // A torn tail after a corrupt last whole line: that line is not the last, so it fails.
  const std::string path = dir.Write("uses", use + "garbage\n" + "U 17");
  EXPECT_EQ(TokenUseStore::Open(path, 100, kT0).code(), base::Code::DATA_LOSS);
}

TEST(TokenUseStoreTest, FileIsPrivateAndItsDirectoryIsCreated) {
  TempDir dir;
  const std::string path = dir.path() + "/state/uses";
  auto store = OpenOrDie(path);
  ASSERT_TRUE(store);
  Use(*store, "a");
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(stat((dir.path() + "/state").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);

  // An existing file with a looser mode is made private by the compaction at Open.
  const std::string loose = dir.Write("loose", "");
  ASSERT_EQ(chmod(loose.c_str(), 0644), 0);
  ASSERT_TRUE(OpenOrDie(loose));
  ASSERT_EQ(stat(loose.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST(TokenUseStoreTest, KeysAreStoredAsSha256Only) {
  TempDir dir;
  const std::string path = dir.path() + "/uses";
  auto store = OpenOrDie(path);
  ASSERT_TRUE(store);
  Use(*store, "abc", seconds(60));
  Use(*store, "jti-secret\nRunPodSandbox\npod-uid", seconds(60));
  ASSERT_TRUE(store->Release("jti-secret\nRunPodSandbox\npod-uid").ok());
  const std::string text = ReadFile(path);
  EXPECT_EQ(text.find("jti-secret"), std::string::npos);
  std::vector<std::string> lines = Lines(path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "U 1790000060000 " + std::string(kAbcDigest));
  EXPECT_EQ(lines[2].substr(0, 2), "R ");
  EXPECT_EQ(lines[1].substr(lines[1].size() - 64), lines[2].substr(2));
}

TEST(TokenUseStoreTest, CompactionShrinksTheFileAndKeepsLiveUses) {
  TempDir dir;
  const std::string path = dir.path() + "/uses";
  {
    auto store = OpenOrDie(path, 10'000);
    ASSERT_TRUE(store);
    Use(*store, "kept", seconds(600));
    // Each round adds a use and a release record: 1201 records without compaction.
    for (int i = 0; i < 600; ++i) {
      const std::string key = "k" + std::to_string(i);
      Use(*store, key);
      ASSERT_TRUE(store->Release(key).ok());
    }
    Use(*store, "last");
    // At most 2 x 2 live + 1024 records before a commit compacts, plus that commit's.
    EXPECT_LE(Lines(path).size(), 2u * 2 + 1024 + 1);
    EXPECT_FALSE(FileSize(path + ".tmp") >= 0);
    EXPECT_EQ(store->Reserve("kept", kT0 + seconds(600), kT0), Outcome::kReplayed);
    EXPECT_EQ(store->Reserve("k599", kT0 + seconds(60), kT0), Outcome::kReserved);
  }
  auto store = OpenOrDie(path, 10'000);
  ASSERT_TRUE(store);
  EXPECT_EQ(Lines(path).size(), 2u);  // compacted again at Open
  EXPECT_EQ(store->Reserve("kept", kT0 + seconds(600), kT0), Outcome::kReplayed);
  EXPECT_EQ(store->Reserve("last", kT0 + seconds(60), kT0), Outcome::kReplayed);
  EXPECT_EQ(store->Reserve("k0", kT0 + seconds(60), kT0), Outcome::kReserved);
}

// Makes writes past limit bytes fail with EFBIG (RLIMIT_FSIZE): a real
// write(2) failure, without root or a special filesystem.
class FileSizeLimit final {
 public:
  explicit FileSizeLimit(rlim_t limit) {
    getrlimit(RLIMIT_FSIZE, &saved_);
    old_handler_ = signal(SIGXFSZ, SIG_IGN);  // else the write kills the process
    rlimit lower = saved_;
    lower.rlim_cur = limit;
    ok_ = setrlimit(RLIMIT_FSIZE, &lower) == 0;
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &saved_);
    signal(SIGXFSZ, old_handler_);
  }
  bool ok() const { return ok_; }

 private:
  rlimit saved_{};
  sighandler_t old_handler_ = SIG_DFL;
  bool ok_ = false;
};

TEST(TokenUseStoreTest, FailedCommitDropsTheReservationAndKeepsTheFileWhole) {
  TempDir dir;
  const std::string path = dir.path() + "/uses";
  auto store = OpenOrDie(path);
  ASSERT_TRUE(store);
  Use(*store, "a");
  const off_t before = FileSize(path);
  ASSERT_GT(before, 0);
  ASSERT_EQ(store->Reserve("b", kT0 + seconds(60), kT0), Outcome::kReserved);
  base::Status status;
  {
    // Room for 10 bytes of b's record: a short write, then EFBIG.
    FileSizeLimit limit(static_cast<rlim_t>(before) + 10);
    ASSERT_TRUE(limit.ok());
    status = store->Commit("b");
    EXPECT_EQ(FileSize(path), before);  // the torn part was cut off
    // A committed use whose release cannot be written stays used.
    base::Status release = store->Release("a");
    EXPECT_EQ(release.code(), base::Code::UNAVAILABLE);
    EXPECT_EQ(store->Reserve("a", kT0 + seconds(60), kT0), Outcome::kReplayed);
  }
  EXPECT_EQ(status.code(), base::Code::UNAVAILABLE);
  EXPECT_EQ(status.message(), "cannot write token use file " + path + ": File too large");
  // The token is not used up: b can be reserved and committed again.
  EXPECT_EQ(store->size(), 1u);
  EXPECT_EQ(store->Reserve("b", kT0 + seconds(60), kT0), Outcome::kReserved);
  ASSERT_TRUE(store->Commit("b").ok());
  store.reset();
  store = OpenOrDie(path);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->Reserve("a", kT0 + seconds(60), kT0), Outcome::kReplayed);
  EXPECT_EQ(store->Reserve("b", kT0 + seconds(60), kT0), Outcome::kReplayed);
}

TEST(TokenUseStoreTest, OpenRefusesWhatItCannotSafelyRewrite) {
  TempDir dir;
  // Compaction renames over path: a symlink would be replaced, not followed.
  const std::string target = dir.Write("target", "");
  const std::string link = dir.path() + "/link";
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  auto store = TokenUseStore::Open(link, 100, kT0);
  EXPECT_EQ(store.code(), base::Code::FAILED_PRECONDITION);
  EXPECT_EQ(store.error(), "token use file " + link + " is not a regular file");

  auto missing = TokenUseStore::Open(dir.path() + "/no/such/uses", 100, kT0);
  EXPECT_EQ(missing.code(), base::Code::UNAVAILABLE);
  EXPECT_EQ(missing.error(), "cannot create the directory of token use file " + dir.path() +
                                 "/no/such/uses: No such file or directory");
  EXPECT_EQ(TokenUseStore::Open(dir.path() + "/uses", 0, kT0).code(), base::Code::INVALID_ARGUMENT);
}

TEST(TokenUseStoreTest, MemoryOnlyStoreWorksWithoutAFile) {
  auto store = OpenOrDie("", 2);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->path(), "");
  EXPECT_EQ(store->capacity(), 2u);
  Use(*store, "a");
  EXPECT_EQ(store->Reserve("a", kT0 + seconds(60), kT0), Outcome::kReplayed);
  EXPECT_EQ(store->Reserve("b", kT0 + seconds(60), kT0), Outcome::kReserved);
  EXPECT_EQ(store->Reserve("c", kT0 + seconds(60), kT0), Outcome::kFull);
  EXPECT_TRUE(store->Release("a").ok());
  EXPECT_EQ(store->Reserve("a", kT0 + seconds(60), kT0), Outcome::kReserved);
  EXPECT_EQ(store->size(), 2u);
}

}  // namespace
}  // namespace crigate::policy
