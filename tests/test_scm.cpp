// The SCM of a fitted field at its steady state against dense linear algebra on small
// models: B = I + diag(1/gamma) J column by column, its edges on W's pattern, the total
// effects (I - B)^-1 e_j, and the spectral radius from the dense eigenvalues.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "perturbfit/analysis/scm.hpp"
#include "perturbfit/solvers/small_dense.hpp"
#include "test_support.hpp"

namespace perturbfit {
namespace {

struct Dense {
  int n = 0;
  std::vector<double> B;  // row-major
};

Dense dense_b(const analysis::Scm& scm, int n) {
  Dense d{n, std::vector<double>(static_cast<std::size_t>(n * n))};
  std::vector<double> e(static_cast<std::size_t>(n)), col(static_cast<std::size_t>(n));
  for (int j = 0; j < n; ++j) {
    std::fill(e.begin(), e.end(), 0.0);
    e[static_cast<std::size_t>(j)] = 1.0;
    scm.apply(e.data(), col.data());
    for (int i = 0; i < n; ++i) d.B[static_cast<std::size_t>(i * n + j)] = col[static_cast<std::size_t>(i)];
  }
  return d;
}

class ScmTest : public ::testing::TestWithParam<model::ModelKind> {};

TEST_P(ScmTest, MatchesDenseLinearAlgebraAtTheSteadyState) {
  const auto p = test_support::small_model(GetParam(), 12, 3, 2);
  const model::Condition cond{{0.3, -0.2}, {}, 0.0};
  bool converged = false;
  const auto x = test_support::tight_steady_state(p, cond, converged);
  ASSERT_TRUE(converged);
  const model::VectorField field(p);
  const analysis::Scm scm(field, cond, x);
  const int n = field.size();
  const auto d = dense_b(scm, n);

  // B - I = diag(1/gamma) J by central differences of f.
  const double h = 1e-6;
  std::vector<double> fp(static_cast<std::size_t>(n)), fm(static_cast<std::size_t>(n));
  for (int j = 0; j < n; ++j) {
    auto xp = x, xm = x;
    xp[static_cast<std::size_t>(j)] += h, xm[static_cast<std::size_t>(j)] -= h;
    field.evaluate(xp.data(), cond, std::numeric_limits<double>::infinity(), fp.data());
    field.evaluate(xm.data(), cond, std::numeric_limits<double>::infinity(), fm.data());
    for (int i = 0; i < n; ++i) {
      const double fd = (fp[static_cast<std::size_t>(i)] - fm[static_cast<std::size_t>(i)]) / (2 * h) /
                            p.gamma[static_cast<std::size_t>(i)] +
                        (i == j ? 1.0 : 0.0);
      EXPECT_NEAR(d.B[static_cast<std::size_t>(i * n + j)], fd, 1e-7) << i << "," << j;
    }
  }

  // Edges: B on W's pattern, exactly when there is no low-rank part.
  const auto edges = scm.edges();
  EXPECT_EQ(static_cast<std::int64_t>(edges.size()), GetParam() == model::ModelKind::kNeural ? 0 : p.W.nnz());
  if (!field.has_low_rank()) {  // then B is its edges exactly: zero off W's pattern
    std::vector<double> sparse(static_cast<std::size_t>(n * n), 0.0);
    for (const auto& e : edges) sparse[static_cast<std::size_t>(e.target * n + e.source)] = e.weight;
    for (std::size_t k = 0; k < sparse.size(); ++k) EXPECT_NEAR(sparse[k], d.B[k], 1e-12) << k;
  }

  // Total effects: (I - B) t = e_j.
  const std::vector<int> sources{0, 5, 11};
  const auto t = scm.total_effects(sources, 1e-12);
  for (std::size_t s = 0; s < sources.size(); ++s)
    for (int i = 0; i < n; ++i) {
      double r = t[s][static_cast<std::size_t>(i)];
      for (int j = 0; j < n; ++j) r -= d.B[static_cast<std::size_t>(i * n + j)] * t[s][static_cast<std::size_t>(j)];
      EXPECT_NEAR(r, i == sources[s] ? 1.0 : 0.0, 1e-9) << s << "," << i;
    }

  // Spectral radius: Arnoldi over all n dimensions equals the dense eigenvalues'.
  double rho = 0;
  for (const auto& l : solvers::eigenvalues(n, d.B)) rho = std::max(rho, std::abs(l));
  EXPECT_NEAR(scm.spectral_radius(n), rho, 1e-9 * std::max(1.0, rho));
}

INSTANTIATE_TEST_SUITE_P(Kinds, ScmTest,
                         ::testing::Values(model::ModelKind::kMechanistic, model::ModelKind::kHybrid,
                                           model::ModelKind::kNeural));

TEST(SmallDense, EigenvaluesOfATriangularMatrixAreItsDiagonal) {
  const std::vector<double> A{2, 1, 0, 0, -3, 4, 0, 0, 0.5};
  const auto l = solvers::eigenvalues(3, A);
  std::vector<double> re;
  for (const auto& v : l) {
    re.push_back(v.real());
    EXPECT_NEAR(v.imag(), 0.0, 1e-14);
  }
  std::sort(re.begin(), re.end());
  EXPECT_NEAR(re[0], -3, 1e-12);
  EXPECT_NEAR(re[1], 0.5, 1e-12);
  EXPECT_NEAR(re[2], 2, 1e-12);
}

TEST(SmallDense, EigenvaluesOfARotationAreAComplexPair) {
  const std::vector<double> A{0, -2, 2, 0};
  const auto l = solvers::eigenvalues(2, A);
  EXPECT_NEAR(std::abs(l[0]), 2.0, 1e-14);
  EXPECT_NEAR(std::abs(l[0].imag()), 2.0, 1e-14);
}

}  // namespace
}  // namespace perturbfit
