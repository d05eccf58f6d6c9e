#include "perturbfit/solvers/steady_state_problem.hpp"

#include "perturbfit/solvers/batched_adjoint.hpp"

namespace perturbfit::solvers {

SteadyStateProblem::SteadyStateProblem(const model::VectorField& field, const SteadyStateOptions& options,
                                       int batch_size)
    : field_(field),
      snes_(field, options),
      batched_(batch_size > 0 ? std::make_unique<BatchedSteadyStateSolver>(field, options) : nullptr),
      batch_size_(batch_size),
      relaxation_rate_(options.relaxation_rate) {}

std::vector<SteadyStateReport> SteadyStateProblem::solve(const std::vector<const model::Condition*>& conds,
                                                         std::vector<std::vector<double>>& xs,
                                                         const std::vector<const std::vector<double>*>& retry_from) {
  std::vector<BatchedColumnReport> batched(conds.size());
  if (batched_ && !conds.empty()) batched = batched_->solve(conds, xs, batch_size_);
  std::vector<SteadyStateReport> reports(conds.size());
  for (std::size_t k = 0; k < conds.size(); ++k) {
    auto& r = reports[k];
    if (batched[k].converged) {
      r.converged = true;
      r.method = batched[k].newton_iterations == 0 && batched[k].relaxation_sweeps > 0 ? SolveMethod::kBatchedRelaxation
                                                                                       : SolveMethod::kBatchedNewton;
      r.newton_iterations = batched[k].newton_iterations;
      r.linear_iterations = batched[k].krylov_iterations;
      r.residual_norm = batched[k].residual_norm;
      snes_.assess_stability(*conds[k], xs[k], r);
      continue;
    }
    if (k < retry_from.size() && retry_from[k]) xs[k] = *retry_from[k];
    const int batched_iterations = batched[k].newton_iterations;
    r = snes_.solve(*conds[k], xs[k]);
    r.newton_iterations += batched_iterations;
  }
  return reports;
}

void SteadyStateProblem::assess_stability(const std::vector<const model::Condition*>& conds,
                                          const std::vector<std::vector<double>>& xs,
                                          std::vector<SteadyStateReport>& reports) {
  for (std::size_t k = 0; k < conds.size(); ++k)
    if (reports[k].converged) snes_.assess_stability(*conds[k], xs[k], reports[k]);
}

std::int64_t SteadyStateProblem::accumulate_gradient(const std::vector<const model::Condition*>& conds,
                                                     const std::vector<const std::vector<double>*>& xs,
                                                     const std::vector<const std::vector<double>*>& rhs, double rtol,
                                                     ParameterGradient& grad,
                                                     std::vector<std::vector<double>>* knock_grads) {
  if (batch_size_ > 0) {  // one pass over W^T per Krylov iteration for a whole batch
    BatchedSteadyStateAdjoint adjoint(field_, rtol, batch_size_, relaxation_rate_);
    return adjoint.accumulate(conds, xs, rhs, grad, knock_grads).iterations;
  }
  SteadyStateAdjoint adjoint(field_, rtol);  // the reference path: one PETSc KSP solve each
  std::int64_t iterations = 0;
  std::vector<double> lambda;
  if (knock_grads) knock_grads->assign(conds.size(), {});
  for (std::size_t k = 0; k < conds.size(); ++k) {
    iterations += adjoint.solve(*conds[k], *xs[k], *rhs[k], lambda);
    for (auto& l : lambda) l = -l;
    add_parameter_vjp(field_, *conds[k], *xs[k], lambda, grad, knock_grads ? &(*knock_grads)[k] : nullptr);
  }
  return iterations;
}

}  // namespace perturbfit::solvers
