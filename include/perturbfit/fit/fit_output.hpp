// fit.h5, the result of `perturbfit fit` (parameters, per-group observed and predicted
// profiles and effects for every split, loss history, steady-state reports), written under
// a .partial name and published (with metrics.json) only when complete. The checkpoint is
// in checkpoint.hpp.
#pragma once
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "perturbfit/fit/checkpoint.hpp"
#include "perturbfit/fit/evaluation.hpp"
#include "perturbfit/fit/optimizer.hpp"
#include "perturbfit/fit/problem.hpp"
#include "perturbfit/io/atomic_file.hpp"
#include "perturbfit/io/hdf5.hpp"
#include "perturbfit/parallel/comm.hpp"

namespace perturbfit::fit {

// Collective. fitted: theta of the model (what predict, export and check read back, with
// the identity they must match); rows: this rank's groups (evaluate_predictions). The
// groups x genes datasets are written rows_per_write rows at a time (per rank), so the
// write buffers stay small at genome scale (256 rows of 20,000 genes: 41 MB).
inline constexpr std::size_t kRowsPerWrite = io::H5File::kRowsPerWrite;
void write_fit(const parallel::Comm& comm, const std::filesystem::path& path, const FitProblem& problem,
               const std::vector<double>& fitted, const CheckpointIdentity& identity,
               const std::vector<IterationRecord>& history, const std::vector<GroupPrediction>& rows,
               const std::string& metrics_json, io::OutputSet* staged = nullptr,
               std::size_t rows_per_write = kRowsPerWrite);

}  // namespace perturbfit::fit
