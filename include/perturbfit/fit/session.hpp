// What every command on a fitted problem starts from (fit, its gradient check, predict,
// export, check): the files checked, the screen read and distributed, the problem built,
// and the identity that a checkpoint or a fit.h5 must match to be used with it.
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include "perturbfit/core/reporter.hpp"
#include "perturbfit/data/screen_data.hpp"
#include "perturbfit/fit/checkpoint.hpp"
#include "perturbfit/fit/problem.hpp"
#include "perturbfit/fit/run.hpp"

namespace perturbfit::fit {

struct Session {
  // Collective. reads_truth: check the deck's fit.truth file first (a fit; not a gradient
  // check, where a stale path must not stop it).
  Session(const parallel::Comm& comm, const FitRequest& request, bool reads_truth, const Reporter& reporter);

  // The checkpoint in request.restart, checked against this identity and size.
  OptimizerState read_restart() const;
  // The fitted parameters theta of `fit_h5` (written by `fit`), checked against this
  // identity: UsageError (exit 2) if it was fitted with another deck or other --set values
  // or on another screen, DataError (exit 3) if it is not a fit.h5 or has no theta.
  // Collective (every rank reads it).
  std::vector<double> read_fitted(const std::filesystem::path& fit_h5) const;

  const FitRequest& request;
  std::unique_ptr<data::ScreenData> screen;
  CheckpointIdentity identity;
  std::unique_ptr<FitProblem> problem;
  std::array<std::int64_t, 3> split_counts{0, 0, 0};  // train, validation, test perturbations
};

}  // namespace perturbfit::fit
