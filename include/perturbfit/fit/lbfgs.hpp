// Projected limited-memory BFGS for bound constraints, restartable bit for bit.
//
// Why not PETSc TAO's BLMVM (still available: fit.optimizer = "tao"): TAO cannot save its
// quasi-Newton state, so an exactly restartable fit had to restart TAO at every checkpoint,
// and a memory rebuilt from nothing every 10 iterations is little better than steepest
// descent: on real screens the fit stalled at the train_mean level while the same method
// without restarts kept improving. This loop uses the same quasi-Newton matrix as BLMVM
// (PETSc's MATLMVMBFGS, with its diagonally rescaled initial Hessian, options prefix
// -fit_lbfgs_), and keeps the updates that built it since its last reset (at most
// memory + 1 of them) in its state. At every checkpoint the matrix is rebuilt from those,
// in the uninterrupted run as in a run restarted from the checkpoint, so both hold the same
// matrix and retrace the same iterates; the rebuild forgets only what is older than the
// memory.
//
// Each iteration, as BLMVM: the projected gradient pg (zero where a variable sits at a bound
// the gradient pushes it against), an update of the matrix with (x, pg), the direction
// -H pg zeroed on the active bounds; then a weak-Wolfe search along the projected path
// P(x + a d) from a = 1 (doubling while the slope stays steep, bisecting once a minimum is
// bracketed). A direction that is not a descent direction, or a failed search, resets the
// matrix and retries along the scaled projected gradient once before giving up.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "perturbfit/core/petsc_handle.hpp"

namespace perturbfit::fit {

struct LbfgsState {
  std::vector<double> x, g;  // current point and gradient there
  double f = 0;
  bool evaluated = false;  // f and g hold the values at x
  // The matrix updates since its last reset, oldest first: points, projected gradients and
  // the initial scalings (BLMVM's 2 |f| / |pg|^2).
  std::vector<std::vector<double>> points, gradients;
  std::vector<double> deltas;
};

class ProjectedLbfgs {
 public:
  using Objective = std::function<double(const std::vector<double>& x, std::vector<double>& gradient)>;
  // Optional: told when the last evaluation became the best of its line search (keep) and
  // when the step to the best one is taken (accept), e.g. to anchor warm starts there.
  struct Observer {
    std::function<void()> keep, accept;
  };
  enum class Status { kContinue, kConverged, kLineSearchFailed };

  ProjectedLbfgs(std::vector<double> lower, std::vector<double> upper, int memory, double gatol);
  // Resets the matrix and replays st's updates (at a checkpoint, or on restart).
  void rebuild(const LbfgsState& st);
  // One iteration from st (evaluates f and g at st.x first if not yet done).
  Status iterate(LbfgsState& st, const Objective& objective, const Observer& observer = {});
  double projected_gradient_norm(const LbfgsState& st) const;
  static const char* to_string(Status s);

 private:
  std::vector<double> projected_gradient(const std::vector<double>& x, const std::vector<double>& g) const;
  void update(LbfgsState& st, const std::vector<double>& pg, bool reset);
  std::vector<double> direction(const std::vector<double>& pg);
  bool search(LbfgsState& st, const std::vector<double>& d, const Objective& objective, const Observer& observer) const;

  std::vector<double> lower_, upper_;
  std::size_t memory_;
  double gatol_;
  MatHandle matrix_;
  VecHandle x_, f_, out_;
};

}  // namespace perturbfit::fit
