#include "cri/daemon/daemon_metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "policy/token_use_store.h"

namespace crigate::cri {
namespace {

TEST(PartMetrics, ReadsTheTokenUseStoreAtScrapeTime) {
  const auto now = std::chrono::system_clock::now();
  auto store = policy::TokenUseStore::Open("", 10, now);
  ASSERT_TRUE(store.ok()) << store.error();
  std::unique_ptr<base::Registry> registry = PartMetrics({store->get(), nullptr, nullptr});
  EXPECT_NE(registry->Exposition().find("# TYPE crigate_token_uses gauge\ncrigate_token_uses 0\n"),
            std::string::npos)
      << registry->Exposition();
  ASSERT_EQ((*store)->Reserve("jti-1", now + std::chrono::hours(1), now),
            policy::TokenUseStore::Outcome::kReserved);
  EXPECT_NE(registry->Exposition().find("\ncrigate_token_uses 1\n"), std::string::npos)
      << registry->Exposition();
}

TEST(PartMetrics, APartThatIsOffExportsNothing) { EXPECT_EQ(PartMetrics({})->Exposition(), ""); }

TEST(DaemonMetrics, BuildInfoAndReloadsByResult) {
  RegisterDaemonMetrics("9.9.9");
  CountReload(false);
  const std::string text = base::DefaultRegistry().Exposition();
  EXPECT_NE(text.find("\ncrigate_build_info{version=\"9.9.9\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\ncrigate_reloads_total{result=\"ok\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\ncrigate_reloads_total{result=\"refused\"} 1\n"), std::string::npos)
      << text;
}

}  // namespace
}  // namespace crigate::cri
