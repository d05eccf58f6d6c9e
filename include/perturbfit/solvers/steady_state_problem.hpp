// The steady states of many conditions of one model, by the project's one chain: the
// batched solver for all of them (relaxation sweeps, then Newton-GMRES; one pass over W
// serves a batch), then PETSc SNES with its CVODES fallback for each column the batch did
// not finish, then the stability test; and their adjoint, by the same split (batched
// relaxation and GMRES, PETSc KSP for what they leave).
// Used by simulate (equilibrate steps) and fit (every loss evaluation and gradient).
#pragma once
#include <memory>
#include <vector>

#include "perturbfit/model/vector_field.hpp"
#include "perturbfit/solvers/adjoint.hpp"
#include "perturbfit/solvers/batched_steady_state.hpp"
#include "perturbfit/solvers/steady_state.hpp"

namespace perturbfit::solvers {

class SteadyStateProblem {
 public:
  // batch_size 0: SNES for every condition (no batched pass).
  SteadyStateProblem(const model::VectorField& field, const SteadyStateOptions& options, int batch_size);

  // xs[k]: initial guess in, steady state out. A column the batched pass did not finish is
  // solved again by SNES from *retry_from[k] when given (a state known to be sensible, e.g.
  // the data's), else from where the batched pass left it; a column that fails is left at
  // that start. Stability is tested per options.stability.
  std::vector<SteadyStateReport> solve(const std::vector<const model::Condition*>& conds,
                                       std::vector<std::vector<double>>& xs,
                                       const std::vector<const std::vector<double>*>& retry_from = {});
  // grad += dl/dtheta for losses whose gradients at the steady states xs[k] of conds[k]
  // are rhs[k] (dl/dx*): one transposed solve per column to relative tolerance rtol, batched
  // when batch_size > 0, else PETSc KSP for each. knock_grads, if given, receives dl/dkappa
  // per column and entry of conds[k]->knock. Returns the Krylov iterations; throws
  // NumericalError if a column cannot be solved.
  std::int64_t accumulate_gradient(const std::vector<const model::Condition*>& conds,
                                   const std::vector<const std::vector<double>*>& xs,
                                   const std::vector<const std::vector<double>*>& rhs, double rtol,
                                   ParameterGradient& grad, std::vector<std::vector<double>>* knock_grads);
  // The stability test (options.stability) of every converged column, for states solved
  // with it skipped (the niche's inner solves test only the coupled state's final one).
  void assess_stability(const std::vector<const model::Condition*>& conds, const std::vector<std::vector<double>>& xs,
                        std::vector<SteadyStateReport>& reports);
  // One condition through SNES and its fallback (no batched pass).
  SteadyStateReport solve_one(const model::Condition& cond, std::vector<double>& x) { return snes_.solve(cond, x); }

 private:
  const model::VectorField& field_;
  SteadyStateSolver snes_;
  std::unique_ptr<BatchedSteadyStateSolver> batched_;  // null when batch_size == 0
  int batch_size_;
  double relaxation_rate_;  // for the batched adjoint
};

}  // namespace perturbfit::solvers
