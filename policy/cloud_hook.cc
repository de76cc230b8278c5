// Where the policy meets policy/cloud: parsing [cloud] and adding the cloud
// stage. policy/cloud is a separate library, built when its folder is there
// (CRIGATE_HAVE_CLOUD); without it a config that enables the cloud is
// refused rather than run without the check.
#include <fmt/format.h>

#include "policy/pipeline_builder.h"
#include "policy/policy_config.h"

#if CRIGATE_HAVE_CLOUD
#include "policy/cloud/cloud_config.h"
#include "policy/cloud/cloud_stage.h"
#endif

namespace crigate::policy {

#if CRIGATE_HAVE_CLOUD

void ParseCloudSection(const toml::table& root, PolicyConfig& config,
                       std::vector<std::string>& errors) {
  config.cloud = cloud::ParseCloudConfig(root, errors);
}

base::Status AddCloudStage(const PolicyConfig& config, const PipelineDeps&,
                           std::vector<std::unique_ptr<Stage>>& stages) {
  if (!config.cloud || !config.cloud->enabled) return base::Status::OK();
  Result<std::unique_ptr<cloud::CloudStage>> stage =
      cloud::MakeCloudStage(*config.cloud, config.node_id);
  if (!stage.ok()) {
    return Fail(stage.code(), fmt::format("cloud: {}", stage.error()));
  }
  stages.push_back(std::move(stage).value());
  return base::Status::OK();
}

#else

void ParseCloudSection(const toml::table& root, PolicyConfig&, std::vector<std::string>& errors) {
  const toml::node* section = root.get("cloud");
  if (!section) return;
  const toml::table* table = section->as_table();
  const toml::node* enabled = table ? table->get("enabled") : nullptr;
  if (!table || !enabled || enabled->value_exact<bool>() != false) {
    errors.push_back(
        "cloud: this build of crigate has no cloud stage; remove [cloud] or set "
        "enabled = false");
  }
}

base::Status AddCloudStage(const PolicyConfig&, const PipelineDeps&,
                           std::vector<std::unique_ptr<Stage>>&) {
  return base::Status::OK();
}

#endif

}  // namespace crigate::policy
