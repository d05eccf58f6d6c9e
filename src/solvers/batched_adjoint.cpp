#include "perturbfit/solvers/batched_adjoint.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

namespace perturbfit::solvers {

namespace {
constexpr int kMaxIterations = 1000;  // as the single-column KSP
}

BatchedSteadyStateAdjoint::BatchedSteadyStateAdjoint(const model::VectorField& field, double rtol, int batch,
                                                     int krylov_dim)
    : field_(field), rtol_(rtol), batch_(std::max(1, batch)), gmres_(krylov_dim) {}

BatchedSteadyStateAdjoint::Report BatchedSteadyStateAdjoint::accumulate(
    const std::vector<const model::Condition*>& conds, const std::vector<const std::vector<double>*>& xs,
    const std::vector<const std::vector<double>*>& rhs, ParameterGradient& grad,
    std::vector<std::vector<double>>* knock_grads) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const auto G = static_cast<std::size_t>(field_.size()), P = conds.size(), step = static_cast<std::size_t>(batch_);
  const int max_cycles = (kMaxIterations + gmres_.restart_dim() - 1) / gmres_.restart_dim();
  Report report;
  if (knock_grads) knock_grads->assign(P, {});
  std::vector<std::vector<double>> chunk_knock;
  std::vector<double> lambda;
  std::unique_ptr<SteadyStateAdjoint> fallback;  // built only if needed
  model::VectorField::BatchLinearization lin;
  std::vector<double> X, D, Bm, L, norms;
  for (std::size_t b = 0; b < P; b += step) {
    const std::size_t nb = std::min(P, b + step) - b;
    std::vector<const model::Condition*> c(conds.begin() + static_cast<long>(b),
                                           conds.begin() + static_cast<long>(b + nb));
    X.resize(G * nb), D.resize(G * nb), Bm.resize(G * nb), L.resize(G * nb);
    for (std::size_t g = 0; g < G; ++g)
      for (std::size_t k = 0; k < nb; ++k) X[g * nb + k] = (*xs[b + k])[g], Bm[g * nb + k] = (*rhs[b + k])[g];
    field_.linearize_batch(X.data(), static_cast<int>(nb), c, kInf, lin);
    field_.jacobian_diagonal_batch(lin, D.data());  // the diagonal of J^T is J's
    column_norms(Bm.data(), G, nb, norms);
    for (auto& t : norms) t *= rtol_;
    const auto jtvp = [&](const double* in, double* out) { field_.jtvp_batch(lin, in, out); };
    const auto result = gmres_.solve(jtvp, G, static_cast<int>(nb), D.data(), Bm.data(), L.data(), norms, max_cycles);
    for (std::size_t k = 0; k < nb; ++k) {
      report.iterations += result.iterations[k];
      if (result.converged[k]) continue;
      if (!fallback) fallback = std::make_unique<SteadyStateAdjoint>(field_, rtol_);
      ++report.fallbacks;
      report.iterations += fallback->solve(*conds[b + k], *xs[b + k], *rhs[b + k], lambda);
      for (std::size_t g = 0; g < G; ++g) L[g * nb + k] = lambda[g];
    }
    for (auto& l : L) l = -l;  // dl/dtheta = -lambda^T df/dtheta
    add_parameter_vjp_batch(field_, c, X.data(), L.data(), grad, knock_grads ? &chunk_knock : nullptr);
    if (knock_grads)
      for (std::size_t k = 0; k < nb; ++k) (*knock_grads)[b + k] = std::move(chunk_knock[k]);
  }
  return report;
}

}  // namespace perturbfit::solvers
