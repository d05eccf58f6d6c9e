// With a simulated screen's truth.h5: how well the fit recovered the ground truth.
// Steady-state data identify the model only up to a per-gene change of units (x_fit =
// S x_true, with S absorbing sequencing depth and dropout) and a per-gene time scale
// (f / gamma has the same zeros). So S is estimated from the control steady states, and
// W S (true units), (v / gamma) / S and (beta / gamma) / S and c are compared; edges are
// ranked by |W S| for the AUPRC (random ranking: the fraction of true edges).
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>

#include "perturbfit/fit/evaluation.hpp"
#include "perturbfit/fit/problem.hpp"

namespace perturbfit::fit {

// Before any work: UsageError unless `truth` is a truth.h5 written by `perturbfit simulate`
// (its parameters and control state readable), so a wrong fit.truth does not cost a fit.
void check_truth_file(const std::filesystem::path& truth);

// Call after problem.solve_all(); reads the file on the calling rank only.
nlohmann::json truth_recovery(const FitProblem& problem, const std::filesystem::path& truth);

// Average precision of scores against binary labels (ties broken by index).
double average_precision(const std::vector<double>& scores, const std::vector<char>& positive,
                         std::size_t total_positive);

}  // namespace perturbfit::fit
