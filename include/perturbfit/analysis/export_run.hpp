// `perturbfit export`: the fitted model as a structural causal model at its control state
// in each context (analysis/scm.hpp), written as
//   edges.tsv          medium, regulator, target, weight B (direct effect, in control levels)
//   network.graphml    the same edges (directed; attributes weight, medium; node kind)
//   total_effects.tsv  medium, source, target, total effect ((I - B)^-1 e_source), direct
//   summary.json       per context: control state (converged, stable), edges, spectral radius
//                      of B and a warning where it reaches 1, the sources of the total effects
// The state is in model units (one unit = a gene's control level), so a weight of 0.5 says:
// raising the regulator by its control level raises the target's production by half of
// the target's control level.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "perturbfit/core/reporter.hpp"
#include "perturbfit/fit/problem.hpp"
#include "perturbfit/parallel/comm.hpp"

namespace perturbfit::analysis {

// Spectral radius from which export warns: feedback amplifies total effects by up to 1 / (1 - rho).
inline constexpr double kNearUnitRadius = 0.95;

struct ExportRequest {
  std::vector<std::string> genes;  // sources of the total effects; empty: the top_sources largest out-strengths
  int top_sources = 10;
  double min_total_effect = 1e-4;  // total_effects.tsv lists |effect| at or above this
  int arnoldi_steps = 100;
  std::vector<std::string> media;  // contexts by medium; empty: every control reference
  std::filesystem::path output;
};

// Collective (total-effect sources are split over the ranks). UsageError for unknown genes.
nlohmann::json run_export(const parallel::Comm& comm, fit::FitProblem& problem, const ExportRequest& request,
                          const Reporter& reporter);

}  // namespace perturbfit::analysis
