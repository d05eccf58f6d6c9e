// A whole fit as one call: read the screen, build the problem, optimize with checkpoints
// (or restart from one), select the iterate early stopping chose, solve and test every
// steady state of the fitted model, score the predictors, and write fit.h5, metrics.json
// and checkpoint.h5 into the output directory. The `fit` command only claims the directory,
// records provenance and prints the returned report.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>

#include "perturbfit/config/deck.hpp"
#include "perturbfit/core/reporter.hpp"
#include "perturbfit/data/options.hpp"
#include "perturbfit/fit/options.hpp"
#include "perturbfit/parallel/comm.hpp"
#include "perturbfit/parallel/stop_signal.hpp"

namespace perturbfit::fit {

struct FitRequest {
  const config::Deck& deck;       // [fit], [data] and the protocol's media
  FitOptions options;             // fit_options(deck), possibly adjusted
  data::DataOptions data;         // data_options(deck, FILE, --layer)
  std::filesystem::path output;   // fit.h5, metrics.json, checkpoint.h5 (and gradient_check.json)
  std::filesystem::path restart;  // continue from restart/checkpoint.h5; empty: a fresh fit
};

struct FitReport {
  bool interrupted = false;  // stopped by a signal; `checkpoint` holds the state
  int signal_number = 0;
  int iteration = 0;  // the last iteration done
  std::filesystem::path checkpoint;
  nlohmann::json summary;  // metrics.json (when not interrupted)
};

// Collective. Throws UsageError / DataError / NumericalError; nothing but the checkpoint is
// left behind by a failure (fit.h5 and metrics.json are published together or not at all).
FitReport run_fit(const parallel::Comm& comm, const FitRequest& request, const parallel::StopSignal& stop,
                  const Reporter& reporter);

struct GradientCheckReport {
  nlohmann::json result;  // also written to output/gradient_check.json
  bool pass = false;      // largest relative error below kGradientCheckThreshold
};
inline constexpr double kGradientCheckThreshold = 1e-5;

// `fit --check-gradient`: the adjoint gradient against central differences, at the
// restart checkpoint's point if one is given, else at a random point. Collective.
GradientCheckReport run_gradient_check(const parallel::Comm& comm, const FitRequest& request, const Reporter& reporter);

}  // namespace perturbfit::fit
