#include "perturbfit/solvers/batched_adjoint.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "perturbfit/model/relaxation.hpp"
#include "perturbfit/solvers/relaxation_schedule.hpp"

namespace perturbfit::solvers {

namespace {
constexpr int kMaxIterations = 1000;  // as the single-column KSP
}

BatchedSteadyStateAdjoint::BatchedSteadyStateAdjoint(const model::VectorField& field, double rtol, int batch,
                                                     double relaxation_rate, int krylov_dim)
    : field_(field), rtol_(rtol), batch_(std::max(1, batch)), relaxation_rate_(relaxation_rate), gmres_(krylov_dim) {}

// Richardson on J^T l = b preconditioned by diag(J), l <- l + (b - J^T l) / diag(J), in
// lockstep: one pass over W^T per iteration and no Krylov vector work. Its rate is the
// spectral radius GMRES reaches on this operator too (see batched_steady_state.cpp's
// jacobi). A column stays while each iteration cuts its residual by relaxation_rate_; one that
// gains nothing keeps its previous iterate. Columns that are done ride along unchanged.
std::int64_t BatchedSteadyStateAdjoint::richardson(const BatchedGmres::Operator& jtvp, std::size_t G, std::size_t nb,
                                                   std::vector<double>& L, std::vector<double>& R,
                                                   std::vector<double>& rnorm) {
  std::int64_t iterations = 0;
  std::vector<char> iterating(nb, 0);
  for (std::size_t k = 0; k < nb; ++k) iterating[k] = std::isfinite(rnorm[k]) && rnorm[k] > norms_[k];
  std::vector<double> Ln(G * nb), Rn(G * nb), tnorm;
  for (int it = 0; it < kMaxIterations; ++it) {
    if (std::none_of(iterating.begin(), iterating.end(), [](char c) { return c != 0; })) break;
    for (std::size_t g = 0; g < G; ++g)
      for (std::size_t k = 0; k < nb; ++k) {
        const std::size_t i = g * nb + k;
        Ln[i] = iterating[k] ? L[i] + R[i] / D_[i] : L[i];
      }
    jtvp(Ln.data(), Rn.data());
    for (std::size_t i = 0; i < G * nb; ++i) Rn[i] = B_[i] - Rn[i];
    column_norms(Rn.data(), G, nb, tnorm);
    std::swap(L, Ln), std::swap(R, Rn);  // Ln, Rn hold the previous iterate now
    for (std::size_t k = 0; k < nb; ++k) {
      if (!iterating[k]) continue;
      if (!(std::isfinite(tnorm[k]) && tnorm[k] < rnorm[k])) {  // no gain: back to the previous iterate
        for (std::size_t g = 0; g < G; ++g) L[g * nb + k] = Ln[g * nb + k], R[g * nb + k] = Rn[g * nb + k];
        iterating[k] = 0;
        continue;
      }
      ++iterations;
      if (tnorm[k] <= norms_[k] || tnorm[k] > relaxation_rate_ * rnorm[k]) iterating[k] = 0;
      rnorm[k] = tnorm[k];
    }
  }
  return iterations;
}

// Gauss-Seidel sweeps on J^T l = b (model/relaxation.hpp) under a RelaxationSchedule; a
// check is one product with J^T. R and rnorm come back true for every column.
std::int64_t BatchedSteadyStateAdjoint::gauss_seidel(std::size_t G, std::size_t nb, std::vector<double>& L,
                                                     std::vector<double>& R, std::vector<double>& rnorm) {
  RelaxationSchedule schedule(norms_, relaxation_rate_, rnorm);
  auto& M = M_;
  auto& start = start_;  // where relaxation began: a column it makes worse goes back there
  M.resize(G * nb), start = L;
  std::vector<double> sq(nb), estimate(nb);
  for (std::size_t i = 0; i < G * nb; ++i) M[i] = lin_.a[i] * L[i];
  std::int64_t sweeps = 0;
  bool stale = false;  // L moved since R was computed
  const auto residual = [&] {
    field_.jtvp_batch(lin_, L.data(), R.data());
    for (std::size_t i = 0; i < G * nb; ++i) R[i] = B_[i] - R[i];
    column_norms(R.data(), G, nb, rnorm);
    stale = false;
  };
  for (int it = 0; it < kMaxIterations && (schedule.sweeping() || schedule.checking()); ++it) {
    if (schedule.sweeping()) {
      std::fill(sq.begin(), sq.end(), 0.0);
      model::adjoint_gauss_seidel_sweep(field_, lin_, B_.data(), L.data(), M.data(), schedule.step().data(), sq.data());
      stale = true;
      for (std::size_t k = 0; k < nb; ++k) {
        estimate[k] = std::sqrt(sq[k]);
        sweeps += schedule.step()[k];
      }
      for (const auto k : schedule.after_sweep(estimate))
        for (std::size_t g = 0; g < G; ++g) {
          const std::size_t i = g * nb + k;
          L[i] = start[i], M[i] = lin_.a[i] * L[i];
        }
    }
    if (!schedule.sweeping()) {
      residual();
      schedule.after_check(rnorm);
    }
  }
  if (stale) residual();
  return sweeps;
}

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
  std::vector<double> rnorm;
  column_norms(B_.data(), G, nb, rnorm);
  norms_ = rnorm;
  for (auto& t : norms_) t *= rtol_;
  if (absolute_targets)
    for (std::size_t k = 0; k < nb; ++k) norms_[k] = (*absolute_targets)[b + k];
  const auto jtvp = [&](const double* in, double* out) { field_.jtvp_batch(lin_, in, out); };
  // l = 0 and the residual R = b, then relaxation, then GMRES on J^T dl = R for the columns
  // not yet at their target (R is zeroed for the others; GMRES runs only if one is left).
  std::fill(chunk.L.begin(), chunk.L.end(), 0.0);
  R_ = B_;
  if (relaxation_rate_ > 0.0)
    report.relaxation_sweeps = model::supports_gauss_seidel(field_) ? gauss_seidel(G, nb, chunk.L, R_, rnorm)
                                                                    : richardson(jtvp, G, nb, chunk.L, R_, rnorm);
  for (std::size_t k = 0; k < nb; ++k)
    if (rnorm[k] <= norms_[k])
      for (std::size_t g = 0; g < G; ++g) R_[g * nb + k] = 0.0;
  BatchedGmres::Result result{std::vector<int>(nb, 0), std::vector<char>(nb, 1)};
  if (std::any_of(R_.begin(), R_.end(), [](double r) { return r != 0.0; })) {
    dL_.resize(G * nb);
    result = gmres_.solve(jtvp, G, static_cast<int>(nb), D_.data(), R_.data(), dL_.data(), norms_, max_cycles);
    for (std::size_t i = 0; i < G * nb; ++i) chunk.L[i] += dL_[i];
  }
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
    report.iterations += r.iterations, report.relaxation_sweeps += r.relaxation_sweeps, report.fallbacks += r.fallbacks;
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
    report.iterations += r.iterations, report.relaxation_sweeps += r.relaxation_sweeps, report.fallbacks += r.fallbacks;
    for (auto& l : chunk.L) l = -l;  // dl/dtheta = -lambda^T df/dtheta
    add_parameter_vjp_batch(field_, chunk.conds, chunk.X.data(), chunk.L.data(), grad,
                            knock_grads ? &chunk_knock : nullptr);
    if (knock_grads)
      for (std::size_t k = 0; k < nb; ++k) (*knock_grads)[b + k] = std::move(chunk_knock[k]);
  }
  return report;
}

}  // namespace perturbfit::solvers
