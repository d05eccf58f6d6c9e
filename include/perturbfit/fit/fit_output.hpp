// Files of `perturbfit fit`: the checkpoint (everything an interrupted run needs to go on)
// and fit.h5 (parameters, per-group observed and predicted profiles and effects for every
// split, loss history, steady-state reports). Both are written under a temporary name and
// renamed, so a crash never leaves a truncated file that looks complete.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "perturbfit/fit/evaluation.hpp"
#include "perturbfit/fit/optimizer.hpp"
#include "perturbfit/fit/problem.hpp"
#include "perturbfit/parallel/comm.hpp"

namespace perturbfit::fit {

// Root only.
void write_checkpoint(const std::filesystem::path& path, const OptimizerState& state,
                      const std::vector<std::string>& genes, const std::string& optimizer);
// Any rank. IOError if absent or unreadable; UsageError if it belongs to another problem.
OptimizerState read_checkpoint(const std::filesystem::path& path, const std::vector<std::string>& genes,
                                    const std::string& optimizer);

// Collective. rows: this rank's groups (evaluate_predictions).
void write_fit(const parallel::Comm& comm, const std::filesystem::path& path, const FitProblem& problem,
               const OptimizerState& state, const std::vector<GroupPrediction>& rows,
               const std::string& metrics_json);

}  // namespace perturbfit::fit
