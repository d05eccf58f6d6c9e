// Minimises the FitProblem's loss: PETSc TAO's bound-constrained limited-memory
// quasi-Newton (BLMVM; any TAO type through -fit_tao_type) over all training groups, or
// Adam with minibatches formed by experimental batch (MODEL.md section 9). Every rank runs
// the same optimiser on bit-identical, replicated parameters; only the loss evaluation is
// distributed. Progress every iteration on rank 0; a checkpoint every N iterations; a stop
// signal ends the run cleanly after the current iteration.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "perturbfit/core/reporter.hpp"
#include "perturbfit/core/stop_signal.hpp"
#include "perturbfit/fit/problem.hpp"

namespace perturbfit::fit {

struct IterationRecord {
  int iteration = 0;
  double loss = 0, data = 0, steady_state = 0, regulariser = 0, gradient_norm = 0, seconds = 0;
  std::int64_t failed_steady_states = 0, batch = -1;  // batch: adam's minibatch (-1: all)
};

// Everything needed to continue a run exactly where it stopped.
struct OptimizerState {
  std::vector<double> theta;
  int iteration = 0;                       // completed iterations
  std::vector<double> adam_m, adam_v;      // adam moments (empty for lbfgs)
  std::vector<IterationRecord> history;
};

struct OptimizeResult {
  std::string reason;       // why it stopped (TAO's converged reason, "max_iterations", "signal")
  bool interrupted = false; // stopped by a signal: the state is a checkpoint, not a result
};

using CheckpointWriter = std::function<void(const OptimizerState&)>;

OptimizeResult optimize(FitProblem& problem, OptimizerState& state, const parallel::Comm& comm,
                        const StopSignal& stop, const CheckpointWriter& checkpoint, const Reporter& reporter);

}  // namespace perturbfit::fit
