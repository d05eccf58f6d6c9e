// Steady states of many perturbations at once, in lockstep over a batch of columns, so
// every residual and Jacobian product is one pass over W serving the whole batch
// (CsrMatrix::multiply_many); vector work is threaded over genes with OpenMP. Nonlinear
// relaxation first (SteadyStateOptions::relaxation_rate): Gauss-Seidel sweeps for a
// mechanistic model, Jacobi steps otherwise; Newton with GMRES for the columns it leaves: Jacobi-preconditioned (right), backtracking line search per column;
// converged columns leave the batch, so the work follows the columns still iterating.
// Columns that do not converge are reported, never silently returned: callers fall back to
// SteadyStateSolver (SNES + CVODES), which owns the stability test and the hard cases.
#pragma once
#include <cstdint>
#include <vector>

#include "perturbfit/model/vector_field.hpp"
#include "perturbfit/solvers/batched_gmres.hpp"
#include "perturbfit/solvers/steady_state.hpp"

namespace perturbfit::solvers {

struct BatchedColumnReport {
  bool converged = false;
  int relaxation_sweeps = 0;  // Gauss-Seidel sweeps or Jacobi steps before Newton (SteadyStateOptions::relaxation_rate)
  int newton_iterations = 0;
  int krylov_iterations = 0;
  double residual_norm = 0.0;
};

class BatchedSteadyStateSolver {
 public:
  BatchedSteadyStateSolver(const model::VectorField& field, const SteadyStateOptions& options, int krylov_dim = 30);

  // xs[k]: initial guess in, steady state out. At most a batch's worth of columns at once;
  // larger inputs are processed in chunks of `batch` columns.
  std::vector<BatchedColumnReport> solve(const std::vector<const model::Condition*>& conds,
                                         std::vector<std::vector<double>>& xs, int batch = 32);
  std::int64_t passes_over_w() const { return passes_; }  // batched products, each serving a whole batch

 private:
  void solve_chunk(const std::vector<const model::Condition*>& conds, std::vector<std::vector<double>*>& xs,
                   std::vector<BatchedColumnReport>& reports);
  void gauss_seidel(const std::vector<const model::Condition*>& conds, std::vector<double>& X, std::vector<double>& F,
                    model::VectorField::BatchLinearization& at_x, std::vector<double>& fnorm,
                    std::vector<BatchedColumnReport>& reports);
  void jacobi(const std::vector<const model::Condition*>& conds, std::vector<double>& X, std::vector<double>& F,
              model::VectorField::BatchLinearization& at_x, std::vector<double>& fnorm,
              std::vector<BatchedColumnReport>& reports);
  const model::VectorField& field_;
  SteadyStateOptions opt_;
  BatchedGmres gmres_;
  std::int64_t passes_ = 0;
  // work arrays of a chunk, reused by the next (fresh ones cost page faults every chunk)
  std::vector<double> X_, F_, start_, factor_;
  model::VectorField::BatchLinearization at_x_;
};

}  // namespace perturbfit::solvers
