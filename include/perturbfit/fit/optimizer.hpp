// Minimises the FitProblem's loss over all training groups with the projected L-BFGS of
// fit/lbfgs.hpp (default; its memory is checkpointed), or PETSc TAO (BLMVM or any TAO type
// through -fit_tao_type; restarted at every checkpoint, since TAO cannot save its memory),
// or Adam with minibatches formed by experimental batch (MODEL.md section 9). The
// quasi-Newton methods work on the scaled variables theta / FitProblem::variable_scale().
// Early stopping on the validation perturbations (fit/early_stopping.hpp) for lbfgs and adam.
#pragma once
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "perturbfit/core/reporter.hpp"
#include "perturbfit/parallel/stop_signal.hpp"
#include "perturbfit/fit/early_stopping.hpp"
#include "perturbfit/fit/lbfgs.hpp"
#include "perturbfit/fit/problem.hpp"

namespace perturbfit::fit {

struct IterationRecord {
  int iteration = 0;
  double loss = 0, data = 0, steady_state = 0, regulariser = 0, gradient_norm = 0, seconds = 0;
  std::int64_t failed_steady_states = 0, batch = -1;             // batch: adam's minibatch (-1: all)
  double validation = std::numeric_limits<double>::quiet_NaN();  // validation loss, where computed
};

// Everything needed to continue a run exactly where it stopped.
struct OptimizerState {
  std::vector<double> theta;
  int iteration = 0;                   // completed iterations
  std::vector<double> adam_m, adam_v;  // adam moments (empty otherwise)
  LbfgsState lbfgs;                    // lbfgs: point (scaled variables), gradient, memory
  std::vector<IterationRecord> history;
  EarlyStopping early;  // fit.validation_every
};

struct OptimizeResult {
  std::string reason;        // why it stopped (TAO's converged reason, "max_iterations", "signal")
  bool interrupted = false;  // stopped by a signal: the state is a checkpoint, not a result
};

using CheckpointWriter = std::function<void(const OptimizerState&)>;

OptimizeResult optimize(FitProblem& problem, OptimizerState& state, const parallel::Comm& comm,
                        const parallel::StopSignal& stop, const CheckpointWriter& checkpoint, const Reporter& reporter);

}  // namespace perturbfit::fit
