#include "perturbfit/solvers/batched_steady_state.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace perturbfit::solvers {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

// Column norms of an interleaved G x B array.
void column_norms(const std::vector<double>& A, std::size_t G, std::size_t B, std::vector<double>& out) {
  out.assign(B, 0.0);
  for (std::size_t g = 0; g < G; ++g)
    for (std::size_t k = 0; k < B; ++k) out[k] += A[g * B + k] * A[g * B + k];
  for (auto& v : out) v = std::isfinite(v) ? std::sqrt(v) : kInf;
}
}  // namespace

BatchedSteadyStateSolver::BatchedSteadyStateSolver(const model::VectorField& field, const SteadyStateOptions& options,
                                                   int krylov_dim)
    : field_(field), opt_(options), m_(std::max(2, krylov_dim)) {}

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
                                           std::vector<std::vector<double>*>& xs, std::vector<BatchedColumnReport>& rep) {
  const auto G = static_cast<std::size_t>(field_.size()), B = xs.size(), m = static_cast<std::size_t>(m_);
  const int nb = static_cast<int>(B);
  std::vector<double> X(G * B), F(G * B), Xt(G * B), Ft(G * B), D(G * B), dX(G * B);
  for (std::size_t k = 0; k < B; ++k)
    for (std::size_t g = 0; g < G; ++g) X[g * B + k] = (*xs[k])[g];
  field_.evaluate_batch(X.data(), nb, conds, kInf, F.data());
  ++passes_;
  std::vector<double> fnorm;
  column_norms(F, G, B, fnorm);
  std::vector<char> done(B, 0);
  model::VectorField::BatchLinearization lin;
  // Krylov workspace: m + 1 basis blocks, Hessenberg and Givens per column.
  std::vector<std::vector<double>> V(m + 1, std::vector<double>(G * B));
  std::vector<double> Z(G * B), W(G * B), H((m + 1) * m * B), cs(m * B), sn(m * B), gvec((m + 1) * B), beta(B);
  std::vector<double> dot(B), nrm(B);

  for (int it = 0; it < opt_.max_iterations; ++it) {
    bool any = false;
    for (std::size_t k = 0; k < B; ++k) {
      done[k] = fnorm[k] <= opt_.atol || !std::isfinite(fnorm[k]) || done[k] == 2;
      any |= !done[k];
    }
    if (!any) break;
    field_.linearize_batch(X.data(), nb, conds, kInf, lin);
    ++passes_;
    field_.jacobian_diagonal_batch(lin, D.data());
    // Solve J dX = -F per column with right-preconditioned GMRES(m), Jacobi M = diag(J).
    // Inexact Newton: relative tolerance min(0.1, ||F||) (Eisenstat-Walker-like forcing).
    std::fill(dX.begin(), dX.end(), 0.0);
    std::vector<char> kdone(B);
    for (std::size_t k = 0; k < B; ++k) kdone[k] = done[k];
    for (int restart = 0; restart < 4; ++restart) {
      // r = -F - J dX
      field_.jvp_batch(lin, dX.data(), W.data());
      ++passes_;
      for (std::size_t i = 0; i < G * B; ++i) V[0][i] = -F[i] - W[i];
      column_norms(V[0], G, B, beta);
      std::vector<double> target(B);
      bool open = false;
      for (std::size_t k = 0; k < B; ++k) {
        target[k] = std::min(0.1, fnorm[k]) * fnorm[k];
        if (beta[k] <= target[k] || beta[k] == 0.0) kdone[k] = 1;
        open |= !kdone[k];
      }
      if (!open) break;
      for (std::size_t g = 0; g < G; ++g)
        for (std::size_t k = 0; k < B; ++k) V[0][g * B + k] /= (beta[k] > 0 ? beta[k] : 1.0);
      std::fill(gvec.begin(), gvec.end(), 0.0);
      for (std::size_t k = 0; k < B; ++k) gvec[k] = beta[k];
      std::vector<std::size_t> used(B, 0);
      for (std::size_t j = 0; j < m; ++j) {
        for (std::size_t i = 0; i < G * B; ++i) Z[i] = V[j][i] / D[i];
        field_.jvp_batch(lin, Z.data(), W.data());  // one pass over W for every column
        ++passes_;
        // modified Gram-Schmidt, per column
        for (std::size_t i = 0; i <= j; ++i) {
          std::fill(dot.begin(), dot.end(), 0.0);
          for (std::size_t g = 0; g < G; ++g)
            for (std::size_t k = 0; k < B; ++k) dot[k] += W[g * B + k] * V[i][g * B + k];
          for (std::size_t g = 0; g < G; ++g)
            for (std::size_t k = 0; k < B; ++k) W[g * B + k] -= dot[k] * V[i][g * B + k];
          for (std::size_t k = 0; k < B; ++k) H[(i * m + j) * B + k] = dot[k];
        }
        column_norms(W, G, B, nrm);
        bool open_j = false;
        for (std::size_t k = 0; k < B; ++k) {
          if (kdone[k]) continue;
          H[((j + 1) * m + j) * B + k] = nrm[k];
          // apply previous rotations, then a new one that zeroes H(j+1, j)
          for (std::size_t i = 0; i < j; ++i) {
            const double a = H[(i * m + j) * B + k], b = H[((i + 1) * m + j) * B + k];
            H[(i * m + j) * B + k] = cs[i * B + k] * a + sn[i * B + k] * b;
            H[((i + 1) * m + j) * B + k] = -sn[i * B + k] * a + cs[i * B + k] * b;
          }
          const double a = H[(j * m + j) * B + k], b = H[((j + 1) * m + j) * B + k];
          const double r = std::hypot(a, b);
          cs[j * B + k] = r > 0 ? a / r : 1.0;
          sn[j * B + k] = r > 0 ? b / r : 0.0;
          H[(j * m + j) * B + k] = r;
          H[((j + 1) * m + j) * B + k] = 0.0;
          gvec[(j + 1) * B + k] = -sn[j * B + k] * gvec[j * B + k];
          gvec[j * B + k] = cs[j * B + k] * gvec[j * B + k];
          used[k] = j + 1;
          ++rep[k].krylov_iterations;
          if (std::fabs(gvec[(j + 1) * B + k]) <= target[k] || nrm[k] == 0.0) kdone[k] = 1;
          else open_j = true;
        }
        if (j + 1 < m)
          for (std::size_t g = 0; g < G; ++g)
            for (std::size_t k = 0; k < B; ++k) V[j + 1][g * B + k] = nrm[k] > 0 ? W[g * B + k] / nrm[k] : 0.0;
        if (!open_j) break;
      }
      // back-substitution and update dX += M^{-1} V y, per column
      for (std::size_t k = 0; k < B; ++k) {
        const std::size_t n = used[k];
        if (n == 0) continue;
        std::vector<double> y(n);
        for (std::size_t i = n; i-- > 0;) {
          double s = gvec[i * B + k];
          for (std::size_t l = i + 1; l < n; ++l) s -= H[(i * m + l) * B + k] * y[l];
          y[i] = H[(i * m + i) * B + k] != 0 ? s / H[(i * m + i) * B + k] : 0.0;
        }
        for (std::size_t g = 0; g < G; ++g) {
          double s = 0.0;
          for (std::size_t i = 0; i < n; ++i) s += V[i][g * B + k] * y[i];
          dX[g * B + k] += s / D[g * B + k];
        }
      }
    }
    // Backtracking line search on ||F||, all searching columns evaluated together.
    std::vector<double> lambda(B, 1.0), tnorm;
    std::vector<char> searching(B);
    for (std::size_t k = 0; k < B; ++k) searching[k] = !done[k];
    for (int ls = 0; ls < 12; ++ls) {
      for (std::size_t g = 0; g < G; ++g)
        for (std::size_t k = 0; k < B; ++k) Xt[g * B + k] = X[g * B + k] + (searching[k] ? lambda[k] : 0.0) * dX[g * B + k];
      field_.evaluate_batch(Xt.data(), nb, conds, kInf, Ft.data());
      ++passes_;
      column_norms(Ft, G, B, tnorm);
      bool still = false;
      for (std::size_t k = 0; k < B; ++k) {
        if (!searching[k]) continue;
        if (tnorm[k] <= (1.0 - 1e-4 * lambda[k]) * fnorm[k]) {
          for (std::size_t g = 0; g < G; ++g) X[g * B + k] = Xt[g * B + k], F[g * B + k] = Ft[g * B + k];
          fnorm[k] = tnorm[k];
          searching[k] = 0;
          ++rep[k].newton_iterations;
        } else {
          lambda[k] *= 0.5;
          still = true;
        }
      }
      if (!still) break;
    }
    for (std::size_t k = 0; k < B; ++k)
      if (searching[k]) done[k] = 2;  // no descent: give up on this column (the caller falls back)
  }
  for (std::size_t k = 0; k < B; ++k) {
    rep[k].residual_norm = fnorm[k];
    rep[k].converged = fnorm[k] <= opt_.atol;
    if (rep[k].converged)
      for (std::size_t g = 0; g < G; ++g) (*xs[k])[g] = X[g * B + k];
  }
}

}  // namespace perturbfit::solvers
