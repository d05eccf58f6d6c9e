#include "perturbfit/solvers/batched_steady_state.hpp"

#include "perturbfit/model/relaxation.hpp"
#include "perturbfit/solvers/relaxation_schedule.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace perturbfit::solvers {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int kMaxJacobiIterations = 1000;  // safeguards: at relaxation_rate < 1 the residual floor ends the loop
constexpr int kMaxRelaxationSweeps = 1000;
}  // namespace

BatchedSteadyStateSolver::BatchedSteadyStateSolver(const model::VectorField& field, const SteadyStateOptions& options,
                                                   int krylov_dim)
    : field_(field), opt_(options), gmres_(krylov_dim) {}

std::vector<BatchedColumnReport> BatchedSteadyStateSolver::solve(const std::vector<const model::Condition*>& conds,
                                                                 std::vector<std::vector<double>>& xs, int batch) {
  std::vector<BatchedColumnReport> reports(xs.size());
  const auto step = static_cast<std::size_t>(std::max(1, batch));
  for (std::size_t b = 0; b < xs.size(); b += step) {
    const std::size_t e = std::min(xs.size(), b + step);
    std::vector<const model::Condition*> c(conds.begin() + static_cast<long>(b), conds.begin() + static_cast<long>(e));
    std::vector<std::vector<double>*> x;
    for (std::size_t k = b; k < e; ++k) x.push_back(&xs[k]);
    std::vector<BatchedColumnReport> r(e - b);
    solve_chunk(c, x, r);
    std::copy(r.begin(), r.end(), reports.begin() + static_cast<long>(b));
  }
  return reports;
}

// Nonlinear Jacobi, x <- x - f(x) / diag(df/dx), every column in lockstep: one pass over W
// per iteration and no Krylov vector work. It converges at the rate of the Jacobi-
// preconditioned Jacobian's spectral radius, which GMRES (a disc of eigenvalues, no
// outliers to deflate) does not beat; Newton-GMRES spends about twice the passes for the
// same accuracy. A column stays while each iteration cuts its residual by opt_.relaxation_rate
// or more; a slower one keeps its best iterate and Newton finishes it. Columns that are
// done (converged or handed over) ride along unchanged, so a column's iterates do not
// depend on the others in its batch.
void BatchedSteadyStateSolver::jacobi(const std::vector<const model::Condition*>& conds, std::vector<double>& X,
                                      std::vector<double>& F, model::VectorField::BatchLinearization& at_x,
                                      std::vector<double>& fnorm, std::vector<BatchedColumnReport>& rep) {
  const auto G = static_cast<std::size_t>(field_.size()), B = fnorm.size();
  enum : char { kIterating, kLeft, kReverted };  // kReverted: X went back, F and at_x are stale
  std::vector<char> state(B, kLeft);
  for (std::size_t k = 0; k < B; ++k)
    if (std::isfinite(fnorm[k]) && fnorm[k] > opt_.atol) state[k] = kIterating;
  std::vector<double> D(G * B), Xn(G * B), tnorm;
  for (int it = 0; it < kMaxJacobiIterations; ++it) {
    if (std::none_of(state.begin(), state.end(), [](char c) { return c == kIterating; })) break;
    field_.jacobian_diagonal_batch(at_x, D.data());
    for (std::size_t g = 0; g < G; ++g)
      for (std::size_t k = 0; k < B; ++k) {
        const std::size_t i = g * B + k;
        Xn[i] = state[k] == kIterating ? X[i] - F[i] / D[i] : X[i];
      }
    std::swap(X, Xn);  // Xn holds the previous iterate now
    field_.evaluate_batch(X.data(), static_cast<int>(B), conds, kInf, F.data(), &at_x);
    ++passes_;
    column_norms(F.data(), G, B, tnorm);
    for (std::size_t k = 0; k < B; ++k) {
      if (state[k] != kIterating) continue;
      const bool progress = std::isfinite(tnorm[k]) && tnorm[k] < fnorm[k];
      if (!progress) {  // back to the previous iterate; Newton takes it from there
        for (std::size_t g = 0; g < G; ++g) X[g * B + k] = Xn[g * B + k];
        state[k] = kReverted;
        continue;
      }
      ++rep[k].relaxation_sweeps;
      if (tnorm[k] <= opt_.atol || tnorm[k] > opt_.relaxation_rate * fnorm[k]) state[k] = kLeft;
      fnorm[k] = tnorm[k];
    }
  }
  if (std::any_of(state.begin(), state.end(), [](char c) { return c == kReverted; })) {
    field_.evaluate_batch(X.data(), static_cast<int>(B), conds, kInf, F.data(), &at_x);
    ++passes_;
    column_norms(F.data(), G, B, fnorm);
  }
}

// Nonlinear Gauss-Seidel sweeps (model/relaxation.hpp) under a RelaxationSchedule: about
// 9 sweeps and one residual per column where Jacobi takes 13 residuals (W1, 2026-12-05).
void BatchedSteadyStateSolver::gauss_seidel(const std::vector<const model::Condition*>& conds, std::vector<double>& X,
                                            std::vector<double>& F, model::VectorField::BatchLinearization& at_x,
                                            std::vector<double>& fnorm, std::vector<BatchedColumnReport>& rep) {
  const auto G = static_cast<std::size_t>(field_.size()), B = fnorm.size();
  RelaxationSchedule schedule(std::vector<double>(B, opt_.atol), opt_.relaxation_rate, fnorm);
  auto& factor = factor_;
  auto& start = start_;  // where relaxation began: a column it makes worse goes back there
  start = X;
  std::vector<double> sq(B), estimate(B);
  field_.batch_factors(static_cast<int>(B), conds, kInf, factor);
  bool stale = false;  // X moved since F and at_x were evaluated
  for (int it = 0; it < kMaxRelaxationSweeps && (schedule.sweeping() || schedule.checking()); ++it) {
    if (schedule.sweeping()) {
      std::fill(sq.begin(), sq.end(), 0.0);
      model::gauss_seidel_sweep(field_, X.data(), static_cast<int>(B), conds, factor.data(), schedule.step().data(),
                                sq.data());
      ++passes_;
      stale = true;
      for (std::size_t k = 0; k < B; ++k) {
        estimate[k] = std::sqrt(sq[k]);
        rep[k].relaxation_sweeps += schedule.step()[k];
      }
      for (const auto k : schedule.after_sweep(estimate))
        for (std::size_t g = 0; g < G; ++g) X[g * B + k] = start[g * B + k];
    }
    if (!schedule.sweeping()) {  // the columns waiting for a check, and all the others, in one pass
      field_.evaluate_batch(X.data(), static_cast<int>(B), conds, kInf, F.data(), &at_x);
      ++passes_;
      stale = false;
      column_norms(F.data(), G, B, fnorm);
      schedule.after_check(fnorm);
    }
  }
  if (stale) {
    field_.evaluate_batch(X.data(), static_cast<int>(B), conds, kInf, F.data(), &at_x);
    ++passes_;
    column_norms(F.data(), G, B, fnorm);
  }
}

void BatchedSteadyStateSolver::solve_chunk(const std::vector<const model::Condition*>& conds,
                                           std::vector<std::vector<double>*>& xs,
                                           std::vector<BatchedColumnReport>& rep) {
  const auto G = static_cast<std::size_t>(field_.size()), B = xs.size();
  auto& X = X_;
  auto& F = F_;
  X.resize(G * B), F.resize(G * B);
  for (std::size_t k = 0; k < B; ++k)
    for (std::size_t g = 0; g < G; ++g) X[g * B + k] = (*xs[k])[g];
  // The linearization at each accepted point comes with its residual (evaluate_batch), so a
  // Newton step costs no separate pass over W to linearize.
  auto& at_x = at_x_;
  model::VectorField::BatchLinearization lin, trial;
  field_.evaluate_batch(X.data(), static_cast<int>(B), conds, kInf, F.data(), &at_x);
  ++passes_;
  const std::size_t h = at_x.z.size() / B;
  std::vector<double> fnorm;
  column_norms(F.data(), G, B, fnorm);
  if (opt_.relaxation_rate > 0.0) {
    if (model::supports_gauss_seidel(field_))
      gauss_seidel(conds, X, F, at_x, fnorm, rep);
    else
      jacobi(conds, X, F, at_x, fnorm, rep);
  }
  std::vector<char> done(B, 0);  // 1 converged or non-finite, 2 no descent (the caller falls back)
  // Work arrays hold only the columns still iterating: converged columns cost nothing more.
  std::vector<double> Xa, Fa, D, rhs, dX, Xt, Ft, tnorm;
  for (int it = 0; it < opt_.max_iterations; ++it) {
    std::vector<std::size_t> act;
    for (std::size_t k = 0; k < B; ++k) {
      if (fnorm[k] <= opt_.atol || !std::isfinite(fnorm[k])) done[k] = done[k] == 2 ? 2 : 1;
      if (!done[k]) act.push_back(k);
    }
    if (act.empty()) break;
    const std::size_t na = act.size();
    const int nact = static_cast<int>(na);
    std::vector<const model::Condition*> ca(na);
    Xa.resize(G * na), Fa.resize(G * na), D.resize(G * na), rhs.resize(G * na), dX.resize(G * na);
    for (std::size_t a = 0; a < na; ++a) ca[a] = conds[act[a]];
    lin.nb = nact;
    lin.a.resize(G * na), lin.z.resize(h * na);
    for (std::size_t g = 0; g < G; ++g)
      for (std::size_t a = 0; a < na; ++a) {
        Xa[g * na + a] = X[g * B + act[a]];
        Fa[g * na + a] = F[g * B + act[a]];
        rhs[g * na + a] = -Fa[g * na + a];
        lin.a[g * na + a] = at_x.a[g * B + act[a]];
      }
    for (std::size_t r = 0; r < h; ++r)
      for (std::size_t a = 0; a < na; ++a) lin.z[r * na + a] = at_x.z[r * B + act[a]];
    field_.jacobian_diagonal_batch(lin, D.data());
    // Inexact Newton: J dX = -F to relative tolerance min(0.1, ||F||) (Eisenstat-Walker-like).
    std::vector<double> target(na);
    for (std::size_t a = 0; a < na; ++a) target[a] = std::min(0.1, fnorm[act[a]]) * fnorm[act[a]];
    const auto jvp = [&](const double* in, double* out) {
      field_.jvp_batch(lin, in, out);
      ++passes_;
    };
    const auto inner = gmres_.solve(jvp, G, nact, D.data(), rhs.data(), dX.data(), target, 4);
    for (std::size_t a = 0; a < na; ++a) rep[act[a]].krylov_iterations += inner.iterations[a];
    // Backtracking line search on ||F||, all searching columns evaluated together.
    std::vector<double> lambda(na, 1.0);
    std::vector<char> searching(na, 1);
    Xt.resize(G * na), Ft.resize(G * na);
    for (int ls = 0; ls < 12; ++ls) {
      for (std::size_t g = 0; g < G; ++g)
        for (std::size_t a = 0; a < na; ++a)
          Xt[g * na + a] = Xa[g * na + a] + (searching[a] ? lambda[a] : 0.0) * dX[g * na + a];
      field_.evaluate_batch(Xt.data(), nact, ca, kInf, Ft.data(), &trial);
      ++passes_;
      column_norms(Ft.data(), G, na, tnorm);
      bool still = false;
      for (std::size_t a = 0; a < na; ++a) {
        if (!searching[a]) continue;
        const std::size_t k = act[a];
        if (tnorm[a] <= (1.0 - 1e-4 * lambda[a]) * fnorm[k]) {
          for (std::size_t g = 0; g < G; ++g)
            X[g * B + k] = Xt[g * na + a], F[g * B + k] = Ft[g * na + a], at_x.a[g * B + k] = trial.a[g * na + a];
          for (std::size_t r = 0; r < h; ++r) at_x.z[r * B + k] = trial.z[r * na + a];
          fnorm[k] = tnorm[a];
          searching[a] = 0;
          ++rep[k].newton_iterations;
        } else {
          lambda[a] *= 0.5;
          still = true;
        }
      }
      if (!still) break;
    }
    for (std::size_t a = 0; a < na; ++a)
      if (searching[a]) done[act[a]] = 2;  // no descent: give up on this column (the caller falls back)
  }
  for (std::size_t k = 0; k < B; ++k) {
    rep[k].residual_norm = fnorm[k];
    rep[k].converged = fnorm[k] <= opt_.atol;
    if (rep[k].converged)
      for (std::size_t g = 0; g < G; ++g) (*xs[k])[g] = X[g * B + k];
  }
}

}  // namespace perturbfit::solvers
