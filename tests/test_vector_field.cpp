// The analytic Jacobian (sparse plus low rank) against central finite differences.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "perturbfit/core/random.hpp"
#include "perturbfit/model/vector_field.hpp"
#include "test_support.hpp"

using namespace perturbfit;
using model::ModelKind;

namespace {

struct Case {
  ModelKind kind;
  double t;  // time since perturbation (inf: steady-state kappa)
};

std::vector<double> random_vector(std::size_t n, std::uint64_t id, double lo, double hi) {
  RandomStream rs(99, StreamDomain::kStart, id);
  std::vector<double> v(n);
  for (auto& x : v) x = lo + (hi - lo) * rs.uniform();
  return v;
}

double rel_err(const std::vector<double>& a, const std::vector<double>& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) num += (a[i] - b[i]) * (a[i] - b[i]), den += b[i] * b[i];
  return std::sqrt(num / std::max(den, 1e-300));
}

class JacobianTest : public ::testing::TestWithParam<Case> {};

void check_products(const model::ModelParameters& params, double t) {
  const model::VectorField f(params);
  const auto G = static_cast<std::size_t>(params.genes);
  model::Condition cond;
  cond.medium = {0.7, -0.4};
  cond.knock = {{2, 0.8}, {5, -0.5}};  // one knockdown, one activation
  cond.tau = 3.0;
  const auto x = random_vector(G, 1, 0.1, 3.0);
  const auto v = random_vector(G, 2, -1.0, 1.0);
  const auto w = random_vector(G, 3, -1.0, 1.0);

  model::Linearization lin;
  f.linearize(x.data(), cond, t, lin);
  std::vector<double> jv(G), jtw(G);
  f.jvp(lin, v.data(), jv.data());
  f.jtvp(lin, w.data(), jtw.data());

  // central differences of f along v
  const double h = 1e-6;
  std::vector<double> xp(x), xm(x), fp(G), fm(G), fd(G);
  for (std::size_t g = 0; g < G; ++g) xp[g] += h * v[g], xm[g] -= h * v[g];
  f.evaluate(xp.data(), cond, t, fp.data());
  f.evaluate(xm.data(), cond, t, fm.data());
  for (std::size_t g = 0; g < G; ++g) fd[g] = (fp[g] - fm[g]) / (2 * h);
  EXPECT_LT(rel_err(jv, fd), 1e-6);

  // w^T J v computed both ways: the transpose product is the adjoint of the forward one
  double wjv = 0, jtwv = 0;
  for (std::size_t g = 0; g < G; ++g) wjv += w[g] * jv[g], jtwv += jtw[g] * v[g];
  EXPECT_NEAR(wjv, jtwv, 1e-12 * (1 + std::fabs(wjv)));

  // and each column of J^T w by differences of w^T f
  std::vector<double> fd_t(G);
  for (std::size_t j = 0; j < G; ++j) {
    std::vector<double> a(x), b(x);
    a[j] += h, b[j] -= h;
    f.evaluate(a.data(), cond, t, fp.data());
    f.evaluate(b.data(), cond, t, fm.data());
    double s = 0;
    for (std::size_t g = 0; g < G; ++g) s += w[g] * (fp[g] - fm[g]) / (2 * h);
    fd_t[j] = s;
  }
  EXPECT_LT(rel_err(jtw, fd_t), 1e-6);

  // the diagonal
  std::vector<double> diag(G), e(G, 0.0), col(G);
  f.jacobian_diagonal(lin, diag.data());
  for (std::size_t g = 0; g < G; ++g) {
    e.assign(G, 0.0);
    e[g] = 1.0;
    f.jvp(lin, e.data(), col.data());
    EXPECT_NEAR(diag[g], col[g], 1e-12 * (1 + std::fabs(col[g])));
  }

  // (df/dm)^T w by differences of w^T f in each medium channel
  std::vector<double> dm(2);
  f.medium_vjp(lin, w.data(), dm.data());
  for (std::size_t k = 0; k < 2; ++k) {
    auto up = cond, down = cond;
    up.medium[k] += h, down.medium[k] -= h;
    f.evaluate(x.data(), up, t, fp.data());
    f.evaluate(x.data(), down, t, fm.data());
    double s = 0;
    for (std::size_t g = 0; g < G; ++g) s += w[g] * (fp[g] - fm[g]) / (2 * h);
    EXPECT_NEAR(dm[k], s, 1e-7 * (1 + std::fabs(s))) << "medium channel " << k;
  }
}

// Products with df/dx and (df/dm)^T, with and without the production response Q (its term
// production_g Q_gk in df/dm is what the niche's Jacobian reads).
TEST_P(JacobianTest, ProductsMatchFiniteDifferences) {
  const auto [kind, t] = GetParam();
  for (const bool production : {false, true}) {
    SCOPED_TRACE(production ? "with a production response Q" : "without Q");
    auto params = test_support::small_model(kind, 15, 3, 2);
    if (production) params = test_support::with_production_response(params);
    check_products(params, t);
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, JacobianTest,
                         ::testing::Values(Case{ModelKind::kMechanistic, std::numeric_limits<double>::infinity()},
                                           Case{ModelKind::kMechanistic, 1.5},
                                           Case{ModelKind::kHybrid, std::numeric_limits<double>::infinity()},
                                           Case{ModelKind::kNeural, 2.0}));

TEST(SparsePart, AssembledValuesReproduceTheMechanisticJacobian) {
  const auto params = test_support::small_model(ModelKind::kMechanistic, 20, 0, 1);
  const model::VectorField f(params);
  const auto G = static_cast<std::size_t>(params.genes);
  model::Condition cond;
  cond.medium = {0.3};
  const auto x = random_vector(G, 4, 0.1, 2.0), v = random_vector(G, 5, -1, 1);
  model::Linearization lin;
  f.linearize(x.data(), cond, std::numeric_limits<double>::infinity(), lin);
  std::vector<double> vals, jv(G), av(G);
  f.sparse_values(lin, vals);
  auto m = f.sparse_pattern();
  m.val = vals;
  m.multiply(v.data(), av.data());
  f.jvp(lin, v.data(), jv.data());
  EXPECT_LT(rel_err(av, jv), 1e-14);
  EXPECT_EQ(
      m.nnz(), params.W.nnz() + static_cast<std::int64_t>(G) - [&] {  // existing self-loops share the diagonal slot
        std::int64_t s = 0;
        for (std::size_t g = 0; g < G; ++g)
          for (auto k = params.W.row_ptr[g]; k < params.W.row_ptr[g + 1]; ++k)
            s += params.W.col[static_cast<std::size_t>(k)] == static_cast<int>(g);
        return s;
      }());
}

TEST(Onset, KappaRisesWithTau) {
  model::Condition c;
  c.tau = 2.0;
  EXPECT_DOUBLE_EQ(c.kappa_at(0.9, 0.0), 0.0);
  EXPECT_NEAR(c.kappa_at(0.9, 2.0), 0.9 * (1 - std::exp(-1.0)), 1e-15);
  EXPECT_DOUBLE_EQ(c.kappa_at(0.9, std::numeric_limits<double>::infinity()), 0.9);
  c.tau = 0.0;
  EXPECT_DOUBLE_EQ(c.kappa_at(0.9, 0.0), 0.9);
}

}  // namespace
