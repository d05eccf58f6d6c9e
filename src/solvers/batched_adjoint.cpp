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

BatchedSteadyStateAdjoint::Report BatchedSteadyStateAdjoint::solve_chunk(
    const std::vector<const model::Condition*>& conds, const std::vector<const std::vector<double>*>& xs,
    const std::vector<const std::vector<double>*>& rhs, std::size_t b, std::size_t nb, Chunk& chunk,
    const std::vector<double>* absolute_targets) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const auto G = static_cast<std::size_t>(field_.size());
  const int max_cycles = (kMaxIterations + gmres_.restart_dim() - 1) / gmres_.restart_dim();
  Report report;
  chunk.conds.assign(conds.begin() + static_cast<long>(b), conds.begin() + static_cast<long>(b + nb));
  chunk.X.resize(G * nb), chunk.L.resize(G * nb), D_.resize(G * nb), B_.resize(G * nb);
  for (std::size_t g = 0; g < G; ++g)
    for (std::size_t k = 0; k < nb; ++k) chunk.X[g * nb + k] = (*xs[b + k])[g], B_[g * nb + k] = (*rhs[b + k])[g];
  field_.linearize_batch(chunk.X.data(), static_cast<int>(nb), chunk.conds, kInf, lin_);
  field_.jacobian_diagonal_batch(lin_, D_.data());  // the diagonal of J^T is J's
  column_norms(B_.data(), G, nb, norms_);
  for (auto& t : norms_) t *= rtol_;
  if (absolute_targets)
    for (std::size_t k = 0; k < nb; ++k) norms_[k] = (*absolute_targets)[b + k];
  const auto jtvp = [&](const double* in, double* out) { field_.jtvp_batch(lin_, in, out); };
  const auto result =
      gmres_.solve(jtvp, G, static_cast<int>(nb), D_.data(), B_.data(), chunk.L.data(), norms_, max_cycles);
  for (std::size_t k = 0; k < nb; ++k) {
    report.iterations += result.iterations[k];
    if (result.converged[k]) continue;
    if (!fallback_) fallback_ = std::make_unique<SteadyStateAdjoint>(field_, rtol_);
    ++report.fallbacks;
    report.iterations += fallback_->solve(*conds[b + k], *xs[b + k], *rhs[b + k], lambda_);
    for (std::size_t g = 0; g < G; ++g) chunk.L[g * nb + k] = lambda_[g];
  }
  return report;
}

BatchedSteadyStateAdjoint::Report BatchedSteadyStateAdjoint::solve(const std::vector<const model::Condition*>& conds,
                                                                   const std::vector<const std::vector<double>*>& xs,
                                                                   const std::vector<const std::vector<double>*>& rhs,
                                                                   std::vector<std::vector<double>>& lambdas,
                                                                   const std::vector<double>* absolute_targets) {
  const auto G = static_cast<std::size_t>(field_.size()), P = conds.size(), step = static_cast<std::size_t>(batch_);
  Report report;
  lambdas.assign(P, std::vector<double>(G));
  Chunk chunk;
  for (std::size_t b = 0; b < P; b += step) {
    const std::size_t nb = std::min(P, b + step) - b;
    const auto r = solve_chunk(conds, xs, rhs, b, nb, chunk, absolute_targets);
    report.iterations += r.iterations, report.fallbacks += r.fallbacks;
    for (std::size_t g = 0; g < G; ++g)
      for (std::size_t k = 0; k < nb; ++k) lambdas[b + k][g] = chunk.L[g * nb + k];
  }
  return report;
}

BatchedSteadyStateAdjoint::Report BatchedSteadyStateAdjoint::accumulate(
    const std::vector<const model::Condition*>& conds, const std::vector<const std::vector<double>*>& xs,
    const std::vector<const std::vector<double>*>& rhs, ParameterGradient& grad,
    std::vector<std::vector<double>>* knock_grads) {
  const auto P = conds.size(), step = static_cast<std::size_t>(batch_);
  Report report;
  if (knock_grads) knock_grads->assign(P, {});
  std::vector<std::vector<double>> chunk_knock;
  Chunk chunk;
  for (std::size_t b = 0; b < P; b += step) {
    const std::size_t nb = std::min(P, b + step) - b;
    const auto r = solve_chunk(conds, xs, rhs, b, nb, chunk);
    report.iterations += r.iterations, report.fallbacks += r.fallbacks;
    for (auto& l : chunk.L) l = -l;  // dl/dtheta = -lambda^T df/dtheta
    add_parameter_vjp_batch(field_, chunk.conds, chunk.X.data(), chunk.L.data(), grad,
                            knock_grads ? &chunk_knock : nullptr);
    if (knock_grads)
      for (std::size_t k = 0; k < nb; ++k) (*knock_grads)[b + k] = std::move(chunk_knock[k]);
  }
  return report;
}

}  // namespace perturbfit::solvers
