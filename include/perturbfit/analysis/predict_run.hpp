// `perturbfit predict`: a table of perturbations (listed, all pairs of a gene list, or the
// screen's own groups) predicted by a fitted model and written as an AnnData file:
//   predictions.h5ad  X = predicted log(eps + normalised expression), layers/effect = X minus
//                     the control profile; obs = perturbation, medium, time, batch, split, kind,
//                     converged, stable, leading_eigenvalue, non_unique, start_spread, fallback,
//                     and for pairs the interaction view (analysis/interactions.hpp)
//   interactions.tsv  the pairs ranked by deviation from additive, with their class
//   summary.json      counts, failures, the top interactions
//   cells.h5ad        with --cells N: N cells per converged row drawn through the measurement
//                     (analysis/cell_sampler.hpp); obs row = the row of predictions.h5ad
// Rows are distributed over the ranks in blocks; the singles that pairs are compared with
// are solved on every rank (they are few).
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "perturbfit/core/reporter.hpp"
#include "perturbfit/fit/problem.hpp"
#include "perturbfit/parallel/comm.hpp"

namespace perturbfit::analysis {

struct PredictRequest {
  std::vector<std::string> perturbations;  // labels, targets joined by '+'
  std::vector<std::string> all_pairs;      // genes: every single and every pair of them
  std::string groups;                      // "", train, validation, test or all: the screen's own groups
  std::vector<std::string> media;          // contexts by medium name; empty: every control reference
  std::string protocol;                    // another protocol (prediction.hpp) instead of the contexts
  int cells_per_row = 0;                   // > 0: also cells.h5ad, cells drawn per row (cell_sampler.hpp)
  int other_starts = 2;
  std::filesystem::path output;
};

// Collective. UsageError for unknown genes or media (with the nearest names).
nlohmann::json run_predict(const parallel::Comm& comm, fit::FitProblem& problem, const PredictRequest& request,
                           const Reporter& reporter);

}  // namespace perturbfit::analysis
