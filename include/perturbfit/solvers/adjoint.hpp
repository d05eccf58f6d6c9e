// Gradients of a loss l(x*(theta)) of a steady state with respect to the model parameters,
// by the implicit function theorem (MODEL.md section 8): solve (df/dx)^T lambda = dl/dx*
// once (GMRES on the transposed sparse-plus-low-rank operator, Jacobi; options prefix
// -adjoint_), then dl/dtheta = -lambda^T df/dtheta. Groundwork of the fit (issue 5).
#pragma once
#include <limits>
#include <memory>
#include <vector>

#include "perturbfit/model/vector_field.hpp"

namespace perturbfit::solvers {

// Same layout as ModelParameters: W over its nonzeros, U (G x K), A (G x h), B (h x G),
// C (h x K) row-major.
struct ParameterGradient {
  std::vector<double> W, U, c, v, beta, gamma, A, B, C, d, Q;
  explicit ParameterGradient(const model::ModelParameters& p);
  void add(const ParameterGradient& other);
  std::vector<double> flatten() const;  // the order of model::pack_parameters
  void unflatten(const double* values);
};

// grad += w^T df/dtheta at (x, cond) at time t since the perturbation (infinity: a steady
// state). If knock_grad is given, it receives w^T df/d(kappa of the entry) for each entry of
// cond.knock (the fit learns kappa; with an onset, kappa_g(t) = kappa (1 - exp(-t/tau))).
void add_parameter_vjp(const model::VectorField& field, const model::Condition& cond, const std::vector<double>& x,
                       const std::vector<double>& w, ParameterGradient& grad, std::vector<double>* knock_grad = nullptr,
                       double t = std::numeric_limits<double>::infinity());

// The same for a batch: X and Wt interleaved (X[g * nb + k], nb = conds.size()); one pass
// over W serves the batch. knock_grads, if given, receives one vector per column.
void add_parameter_vjp_batch(const model::VectorField& field, const std::vector<const model::Condition*>& conds,
                             const double* X, const double* Wt, ParameterGradient& grad,
                             std::vector<std::vector<double>>* knock_grads = nullptr);

class SteadyStateAdjoint {
 public:
  explicit SteadyStateAdjoint(const model::VectorField& field, double rtol = 1e-12);
  ~SteadyStateAdjoint();
  SteadyStateAdjoint(const SteadyStateAdjoint&) = delete;
  SteadyStateAdjoint& operator=(const SteadyStateAdjoint&) = delete;

  // Solves (df/dx)^T lambda = dl_dx at x_star; returns the Krylov iterations. Throws
  // NumericalError if the transposed solve does not converge.
  int solve(const model::Condition& cond, const std::vector<double>& x_star, const std::vector<double>& dl_dx,
            std::vector<double>& lambda);
  // Adds dl/dtheta at the steady state x_star of cond to grad; returns the Krylov iterations.
  // Throws NumericalError if the transposed solve does not converge.
  int accumulate(const model::Condition& cond, const std::vector<double>& x_star, const std::vector<double>& dl_dx,
                 ParameterGradient& grad);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace perturbfit::solvers
