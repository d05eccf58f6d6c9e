#include "perturbfit/solvers/batched_steady_state.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace perturbfit::solvers {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

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

void BatchedSteadyStateSolver::solve_chunk(const std::vector<const model::Condition*>& conds,
                                           std::vector<std::vector<double>*>& xs,
                                           std::vector<BatchedColumnReport>& rep) {
  const auto G = static_cast<std::size_t>(field_.size()), B = xs.size();
  std::vector<double> X(G * B), F(G * B);
  for (std::size_t k = 0; k < B; ++k)
    for (std::size_t g = 0; g < G; ++g) X[g * B + k] = (*xs[k])[g];
  // The linearization at each accepted point comes with its residual (evaluate_batch), so a
  // Newton step costs no separate pass over W to linearize.
  model::VectorField::BatchLinearization at_x, lin, trial;
  field_.evaluate_batch(X.data(), static_cast<int>(B), conds, kInf, F.data(), &at_x);
  ++passes_;
  const std::size_t h = at_x.z.size() / B;
  std::vector<double> fnorm;
  column_norms(F.data(), G, B, fnorm);
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
