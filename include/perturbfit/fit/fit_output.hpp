// fit.h5, the result of `perturbfit fit` (parameters, per-group observed and predicted
// profiles and effects for every split, loss history, steady-state reports), written under
// a .partial name and published (with metrics.json) only when complete. The checkpoint is
// in checkpoint.hpp.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "perturbfit/fit/checkpoint.hpp"
#include "perturbfit/fit/evaluation.hpp"
#include "perturbfit/fit/optimizer.hpp"
#include "perturbfit/fit/problem.hpp"
#include "perturbfit/io/atomic_file.hpp"
#include "perturbfit/parallel/comm.hpp"

namespace perturbfit::fit {

// Collective. fitted: theta of the model (what predict, export and check read back, with
// the identity they must match); rows: this rank's groups (evaluate_predictions).
void write_fit(const parallel::Comm& comm, const std::filesystem::path& path, const FitProblem& problem,
               const std::vector<double>& fitted, const CheckpointIdentity& identity,
               const std::vector<IterationRecord>& history, const std::vector<GroupPrediction>& rows,
               const std::string& metrics_json, io::OutputSet* staged = nullptr);

}  // namespace perturbfit::fit
