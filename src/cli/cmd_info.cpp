// `perturbfit version` and `perturbfit reference`.
#include <iostream>

#include "perturbfit/cli/commands.hpp"
#include "perturbfit/cli/provenance.hpp"
#include "perturbfit/config/schema.hpp"
#include "perturbfit/core/json_text.hpp"
#include "perturbfit/version_info.hpp"
#include "perturbfit/cli/deck_schema.hpp"

namespace perturbfit::cli {

int run_version(const CommandContext& ctx) {
  if (!ctx.comm.is_root()) return 0;
  const auto libs = library_versions();
  if (ctx.json) {
    nlohmann::json j{{"name", "perturbfit"},
                     {"version", build::kVersion},
                     {"git_sha", build::kGitSha},
                     {"build_type", build::kBuildType},
                     {"libraries", libs}};
    std::cout << json_text(j) << std::endl;
  } else {
    std::cout << "perturbfit " << build::kVersion << " (" << build::kGitSha << ", " << build::kBuildType << ")\n";
    for (const auto& [k, v] : libs.items()) std::cout << "  " << k << ": " << v.get<std::string>() << "\n";
  }
  return 0;
}

int run_reference(const CommandContext& ctx) {
  if (ctx.comm.is_root()) std::cout << config::deck_reference_markdown(deck_schema());
  return 0;
}

}  // namespace perturbfit::cli
