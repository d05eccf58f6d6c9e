#include "perturbfit/solvers/batched_gmres.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace perturbfit::solvers {

void column_norms(const double* A, std::size_t n, std::size_t nb, std::vector<double>& out) {
  out.assign(nb, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t k = 0; k < nb; ++k) out[k] += A[i * nb + k] * A[i * nb + k];
  for (auto& v : out) v = std::isfinite(v) ? std::sqrt(v) : std::numeric_limits<double>::infinity();
}

// w -= V_{<q} (V_{<q}^T w) per column, dots[l * nb + k] = v_l^T w: classical Gram-Schmidt
// (PETSc's GMRES default), two sweeps over the basis instead of modified Gram-Schmidt's 2q.
void BatchedGmres::classical_gram_schmidt(std::size_t q, std::size_t n, std::size_t nb, std::vector<double>& dots) {
  std::fill(dots.begin(), dots.begin() + static_cast<long>(q * nb), 0.0);
  double* __restrict w = w_.data();
  double* __restrict d = dots.data();
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t l = 0; l < q; ++l) {
      const double* __restrict vl = basis_[l].data() + i * nb;
      for (std::size_t k = 0; k < nb; ++k) d[l * nb + k] += w[i * nb + k] * vl[k];
    }
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t l = 0; l < q; ++l) {
      const double* __restrict vl = basis_[l].data() + i * nb;
      for (std::size_t k = 0; k < nb; ++k) w[i * nb + k] -= d[l * nb + k] * vl[k];
    }
}

BatchedGmres::BatchedGmres(int restart_dim) : m_(static_cast<std::size_t>(std::max(2, restart_dim))) {}

BatchedGmres::Result BatchedGmres::solve(const Operator& A, std::size_t n, int nb, const double* D, const double* b,
                                         double* x, const std::vector<double>& target, int max_cycles) {
  const auto B = static_cast<std::size_t>(nb), m = m_, N = n * B;
  Result res{std::vector<int>(B, 0), std::vector<char>(B, 0)};
  std::fill(x, x + N, 0.0);
  if (basis_.size() != m + 1) basis_.resize(m + 1);
  for (auto& v : basis_) v.resize(N);
  z_.resize(N), w_.resize(N), h_.resize((m + 1) * m * B), cs_.resize(m * B), sn_.resize(m * B), g_.resize((m + 1) * B);
  std::vector<char> done(B, 0);
  std::vector<double> beta, nrm, dots((m + 1) * B), scale(B), y(m * B), acc(B), dinv(N);
  std::vector<std::size_t> used(B);
  for (std::size_t i = 0; i < N; ++i) dinv[i] = 1.0 / D[i];
  auto H = [&](std::size_t i, std::size_t j, std::size_t k) -> double& { return h_[(i * m + j) * B + k]; };
  for (int cycle = 0; cycle < max_cycles; ++cycle) {
    auto& v0 = basis_[0];
    if (cycle == 0) {
      std::copy(b, b + N, v0.begin());  // x = 0
    } else {
      A(x, w_.data());
      for (std::size_t i = 0; i < N; ++i) v0[i] = b[i] - w_[i];
    }
    column_norms(v0.data(), n, B, beta);
    bool open = false;
    for (std::size_t k = 0; k < B; ++k) {
      if (done[k]) continue;
      if (!std::isfinite(beta[k])) {
        done[k] = 1;  // not converged
      } else if (beta[k] <= target[k] || beta[k] == 0.0) {
        done[k] = 1, res.converged[k] = 1;
      }
      open |= !done[k];
    }
    if (!open) break;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t k = 0; k < B; ++k) v0[i * B + k] /= (beta[k] > 0 ? beta[k] : 1.0);
    std::fill(g_.begin(), g_.end(), 0.0);
    for (std::size_t k = 0; k < B; ++k) g_[k] = beta[k];
    std::fill(used.begin(), used.end(), 0);
    for (std::size_t j = 0; j < m; ++j) {
      const double* vj = basis_[j].data();
      for (std::size_t i = 0; i < N; ++i) z_[i] = vj[i] * dinv[i];
      A(z_.data(), w_.data());
      classical_gram_schmidt(j + 1, n, B, dots);
      for (std::size_t l = 0; l <= j; ++l)
        for (std::size_t k = 0; k < B; ++k) H(l, j, k) = dots[l * B + k];
      column_norms(w_.data(), n, B, nrm);
      bool open_j = false;
      for (std::size_t k = 0; k < B; ++k) {
        if (done[k]) continue;
        H(j + 1, j, k) = nrm[k];
        for (std::size_t l = 0; l < j; ++l) {  // previous rotations, then one zeroing H(j+1, j)
          const double a = H(l, j, k), c = H(l + 1, j, k);
          H(l, j, k) = cs_[l * B + k] * a + sn_[l * B + k] * c;
          H(l + 1, j, k) = -sn_[l * B + k] * a + cs_[l * B + k] * c;
        }
        const double a = H(j, j, k), c = H(j + 1, j, k), r = std::hypot(a, c);
        cs_[j * B + k] = r > 0 ? a / r : 1.0;
        sn_[j * B + k] = r > 0 ? c / r : 0.0;
        H(j, j, k) = r;
        H(j + 1, j, k) = 0.0;
        g_[(j + 1) * B + k] = -sn_[j * B + k] * g_[j * B + k];
        g_[j * B + k] = cs_[j * B + k] * g_[j * B + k];
        used[k] = j + 1;
        ++res.iterations[k];
        if (std::fabs(g_[(j + 1) * B + k]) <= target[k] || nrm[k] == 0.0)
          done[k] = 1, res.converged[k] = 1;
        else
          open_j = true;
      }
      if (j + 1 < m) {
        for (std::size_t k = 0; k < B; ++k) scale[k] = nrm[k] > 0 ? 1.0 / nrm[k] : 0.0;
        double* next = basis_[j + 1].data();
        for (std::size_t i = 0; i < n; ++i)
          for (std::size_t k = 0; k < B; ++k) next[i * B + k] = w_[i * B + k] * scale[k];
      }
      if (!open_j) break;
    }
    // Back-substitution per column, then x += M^{-1} V y for all columns in one sweep.
    std::size_t umax = 0;
    std::fill(y.begin(), y.end(), 0.0);
    for (std::size_t k = 0; k < B; ++k) {
      const std::size_t u = used[k];
      umax = std::max(umax, u);
      for (std::size_t i = u; i-- > 0;) {
        double s = g_[i * B + k];
        for (std::size_t l = i + 1; l < u; ++l) s -= H(i, l, k) * y[l * B + k];
        y[i * B + k] = H(i, i, k) != 0 ? s / H(i, i, k) : 0.0;
      }
    }
    for (std::size_t i = 0; i < n; ++i) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (std::size_t l = 0; l < umax; ++l) {
        const double* vl = basis_[l].data() + i * B;
        for (std::size_t k = 0; k < B; ++k) acc[k] += l < used[k] ? vl[k] * y[l * B + k] : 0.0;
      }
      for (std::size_t k = 0; k < B; ++k)
        if (used[k] > 0) x[i * B + k] += acc[k] * dinv[i * B + k];
    }
    if (std::all_of(done.begin(), done.end(), [](char d) { return d != 0; })) break;
  }
  return res;
}

}  // namespace perturbfit::solvers
