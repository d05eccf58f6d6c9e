#include "perturbfit/analysis/scm.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "perturbfit/core/error.hpp"
#include "perturbfit/solvers/batched_gmres.hpp"
#include "perturbfit/solvers/small_dense.hpp"

namespace perturbfit::analysis {

namespace {
constexpr double kSteady = std::numeric_limits<double>::infinity();  // t: the perturbation's full effect
}

Scm::Scm(const model::VectorField& field, const model::Condition& condition, std::vector<double> x)
    : field_(field), condition_(condition), x_(std::move(x)) {
  field_.linearize(x_.data(), condition_, kSteady, lin_);
}

std::vector<ScmEdge> Scm::edges() const {
  const auto& p = field_.params();
  const auto& W = p.W;
  std::vector<ScmEdge> out;
  if (p.kind == model::ModelKind::kNeural) return out;  // no sparse part: f's production is the network's
  for (int g = 0; g < W.rows; ++g)
    for (auto k = W.row_ptr[static_cast<std::size_t>(g)]; k < W.row_ptr[static_cast<std::size_t>(g) + 1]; ++k) {
      const auto e = static_cast<std::size_t>(k);
      out.push_back({W.col[e], g, lin_.a[static_cast<std::size_t>(g)] * W.val[e] / p.gamma[static_cast<std::size_t>(g)]});
    }
  return out;
}

void Scm::apply(const double* v, double* out) const {
  field_.jvp(lin_, v, out);
  const auto& gamma = field_.params().gamma;
  for (std::size_t g = 0; g < gamma.size(); ++g) out[g] = v[g] + out[g] / gamma[g];
}

double Scm::spectral_radius(int steps) const {
  const auto n = static_cast<std::size_t>(field_.size());
  const std::size_t m = std::min<std::size_t>(static_cast<std::size_t>(std::max(steps, 1)), n);
  // A fixed start with a component along every node (no invariant subspace by construction).
  std::vector<std::vector<double>> V(1, std::vector<double>(n));
  double norm = 0;
  for (std::size_t i = 0; i < n; ++i) V[0][i] = 1.0 + 0.5 * std::sin(1.0 + 2.7 * static_cast<double>(i)), norm += V[0][i] * V[0][i];
  for (auto& v : V[0]) v /= std::sqrt(norm);
  std::vector<double> H(m * m, 0.0);  // row-major m x m (the last subdiagonal entry dropped)
  std::size_t dim = 0;  // columns of H computed
  for (std::size_t k = 0; k < m; ++k) {
    std::vector<double> w(n);
    apply(V[k].data(), w.data());
    for (int pass = 0; pass < 2; ++pass)  // Gram-Schmidt twice: orthogonal to rounding
      for (std::size_t j = 0; j <= k; ++j) {
        double h = 0;
        for (std::size_t i = 0; i < n; ++i) h += V[j][i] * w[i];
        for (std::size_t i = 0; i < n; ++i) w[i] -= h * V[j][i];
        H[j * m + k] += h;
      }
    dim = k + 1;
    double beta = 0;
    for (double wi : w) beta += wi * wi;
    beta = std::sqrt(beta);
    if (k + 1 == m || beta < 1e-13) break;  // the last step, or an invariant subspace (its eigenvalues exact)
    H[(k + 1) * m + k] = beta;
    for (auto& wi : w) wi /= beta;
    V.push_back(std::move(w));
  }
  std::vector<double> Hk(dim * dim);
  for (std::size_t i = 0; i < dim; ++i)
    for (std::size_t j = 0; j < dim; ++j) Hk[i * dim + j] = H[i * m + j];
  double rho = 0;
  for (const auto& l : solvers::eigenvalues(static_cast<int>(dim), Hk)) rho = std::max(rho, std::abs(l));
  return rho;
}

std::vector<std::vector<double>> Scm::total_effects(const std::vector<int>& sources, double rtol) const {
  const auto n = static_cast<std::size_t>(field_.size());
  const auto& gamma = field_.params().gamma;
  std::vector<std::vector<double>> out;
  constexpr std::size_t kBatch = 32;  // columns per batched solve: one pass over W serves them all
  solvers::BatchedGmres gmres(40);
  for (std::size_t b0 = 0; b0 < sources.size(); b0 += kBatch) {
    const std::size_t nb = std::min(kBatch, sources.size() - b0);
    model::VectorField::BatchLinearization lin;
    lin.nb = static_cast<int>(nb);
    lin.a.resize(lin_.a.size() * nb), lin.z.resize(lin_.z.size() * nb);
    for (std::size_t i = 0; i < lin_.a.size(); ++i)
      for (std::size_t c = 0; c < nb; ++c) lin.a[i * nb + c] = lin_.a[i];
    for (std::size_t i = 0; i < lin_.z.size(); ++i)
      for (std::size_t c = 0; c < nb; ++c) lin.z[i * nb + c] = lin_.z[i];
    std::vector<double> D(n * nb), rhs(n * nb, 0.0), t(n * nb, 0.0), target(nb);
    field_.jacobian_diagonal_batch(lin, D.data());
    for (std::size_t c = 0; c < nb; ++c) {
      const auto j = static_cast<std::size_t>(sources[b0 + c]);
      rhs[j * nb + c] = -gamma[j];  // (I - B) t = e_j  <=>  J t = -gamma_j e_j
      target[c] = rtol * gamma[j];
    }
    const auto jvp = [&](const double* in, double* res) { field_.jvp_batch(lin, in, res); };
    const auto result = gmres.solve(jvp, n, static_cast<int>(nb), D.data(), rhs.data(), t.data(), target, 100);
    for (std::size_t c = 0; c < nb; ++c) {
      if (!result.converged[c])
        throw NumericalError("the total effects of node " + std::to_string(sources[b0 + c]) +
                             " did not converge (I - B nearly singular: the control state is at the edge of "
                             "stability)");
      std::vector<double> col(n);
      for (std::size_t i = 0; i < n; ++i) col[i] = t[i * nb + c];
      out.push_back(std::move(col));
    }
  }
  return out;
}

}  // namespace perturbfit::analysis
