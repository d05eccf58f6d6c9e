// The adjoints of many steady states at once: (df/dx at x_k)^T lambda_k = g_k for a batch
// of columns by Jacobi-preconditioned Richardson while it converges fast (relaxation_rate),
// then BatchedGmres for what it leaves (each iteration of either is one pass over W^T for
// the whole batch), then grad -= lambda_k^T df/dtheta in one pass over W (add_parameter_vjp_batch).
// A column the lockstep GMRES does not solve is handed to SteadyStateAdjoint (PETSc KSP;
// the -adjoint_ options apply there), which throws if it fails too.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "perturbfit/model/vector_field.hpp"
#include "perturbfit/solvers/adjoint.hpp"
#include "perturbfit/solvers/batched_gmres.hpp"

namespace perturbfit::solvers {

class BatchedSteadyStateAdjoint {
 public:
  // rtol: relative to ||g_k|| (the convergence test of PETSc's KSP from a zero guess).
  // relaxation_rate: SteadyStateOptions::relaxation_rate (0: GMRES from the start).
  BatchedSteadyStateAdjoint(const model::VectorField& field, double rtol, int batch, double relaxation_rate,
                            int krylov_dim = 30);

  struct Report {
    std::int64_t iterations = 0;         // Krylov iterations, summed over columns
    std::int64_t relaxation_sweeps = 0;  // Richardson iterations, summed over columns
    std::int64_t fallbacks = 0;   // columns solved by SteadyStateAdjoint instead
  };
  // grad += dl/dtheta for the losses whose gradients at the steady states xs[k] of conds[k]
  // are rhs[k] (dl/dx*). knock_grads, if given, receives dl/dkappa per column and entry of
  // conds[k]->knock. Throws NumericalError if a column cannot be solved by either path.
  Report accumulate(const std::vector<const model::Condition*>& conds,
                    const std::vector<const std::vector<double>*>& xs,
                    const std::vector<const std::vector<double>*>& rhs, ParameterGradient& grad,
                    std::vector<std::vector<double>>* knock_grads = nullptr);
  // lambdas[k] = (df/dx at xs[k])^-T rhs[k], by the same split. With absolute_targets,
  // column k stops at residual norm <= absolute_targets[k] instead of rtol ||rhs[k]||.
  // Throws as accumulate.
  Report solve(const std::vector<const model::Condition*>& conds, const std::vector<const std::vector<double>*>& xs,
               const std::vector<const std::vector<double>*>& rhs, std::vector<std::vector<double>>& lambdas,
               const std::vector<double>* absolute_targets = nullptr);

 private:
  struct Chunk {  // columns [b, b + nb): their conditions, states and adjoints, interleaved
    std::vector<const model::Condition*> conds;
    std::vector<double> X, L;
  };
  Report solve_chunk(const std::vector<const model::Condition*>& conds,
                     const std::vector<const std::vector<double>*>& xs,
                     const std::vector<const std::vector<double>*>& rhs, std::size_t b, std::size_t nb, Chunk& chunk,
                     const std::vector<double>* absolute_targets = nullptr);

  std::int64_t gauss_seidel(std::size_t G, std::size_t nb, std::vector<double>& L, std::vector<double>& R,
                            std::vector<double>& rnorm);
  std::int64_t richardson(const BatchedGmres::Operator& jtvp, std::size_t G, std::size_t nb, std::vector<double>& L,
                          std::vector<double>& R, std::vector<double>& rnorm);

  const model::VectorField& field_;
  double rtol_;
  int batch_;
  double relaxation_rate_;
  BatchedGmres gmres_;
  std::unique_ptr<SteadyStateAdjoint> fallback_;  // built only if a column needs it
  model::VectorField::BatchLinearization lin_;
  std::vector<double> D_, B_, R_, dL_, M_, start_, norms_, lambda_;  // work arrays, reused across chunks
};

}  // namespace perturbfit::solvers
