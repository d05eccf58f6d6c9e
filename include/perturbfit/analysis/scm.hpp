// The structural causal model of a fitted vector field at a stable steady state x* (MODEL.md
// section 10): with f(x) = production(x) - gamma x, the linear SCM around x* is
//   x = B x + noise,   B = diag(1/gamma) d production / dx  =  I + diag(1/gamma) J,
// J = df/dx at x*. B's sparse part diag(a / gamma) W lies on W's pattern (the edges); the
// hybrid's and the neural model's A diag(z) B part is dense and of low rank, so it enters
// the spectral radius and the total effects (through products) but not the edge list.
// Total effects (I - B)^-1 e_j are solved, never inverted: (I - B) t = e_j is
// J t = -gamma_j e_j, batched GMRES over the chosen sources (one pass over W per product
// for all of them). The spectral radius of B comes from the Ritz values of an Arnoldi
// factorisation of B (exact when its dimension reaches the number of nodes).
#pragma once
#include <vector>

#include "perturbfit/model/vector_field.hpp"

namespace perturbfit::analysis {

struct ScmEdge {
  int source = 0, target = 0;  // nodes: regulator -> target
  double weight = 0;           // B[target, source]
};

class Scm {
 public:
  // x: a steady state of `condition` (not checked here).
  Scm(const model::VectorField& field, const model::Condition& condition, std::vector<double> x);
  // The sparse part of B on W's pattern (self-loops included), in W's CSR order.
  std::vector<ScmEdge> edges() const;
  // out = B v
  void apply(const double* v, double* out) const;
  // The largest |eigenvalue| of B estimated from an Arnoldi factorisation of `steps`
  // (capped at the number of nodes; exact there up to rounding) from a fixed start.
  double spectral_radius(int steps) const;
  // Columns (I - B)^-1 e_j of the sources, each of nodes values; throws NumericalError if a
  // column does not converge (I - B singular or nearly so). rtol: relative residual.
  std::vector<std::vector<double>> total_effects(const std::vector<int>& sources, double rtol = 1e-10) const;

 private:
  const model::VectorField& field_;
  model::Condition condition_;
  std::vector<double> x_;
  model::Linearization lin_;
};

}  // namespace perturbfit::analysis
