// The batched transposed products, the lockstep GMRES and the batched adjoint against their
// per-column counterparts (which test_adjoint.cpp checks against finite differences).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "perturbfit/core/random.hpp"
#include "perturbfit/solvers/batched_adjoint.hpp"
#include "perturbfit/solvers/batched_gmres.hpp"
#include "perturbfit/solvers/batched_steady_state.hpp"
#include "test_support.hpp"

using namespace perturbfit;

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

std::vector<model::Condition> knockdowns(int genes, int n, int media) {
  std::vector<model::Condition> c(static_cast<std::size_t>(n));
  for (int k = 0; k < n; ++k) {
    auto& ck = c[static_cast<std::size_t>(k)];
    ck.medium.assign(static_cast<std::size_t>(media), 0.2 * k - 0.4);
    if (k > 0) ck.knock = {{k % genes, 0.8}, {(5 * k) % genes, 0.3}};
  }
  return c;
}

std::vector<const model::Condition*> pointers(const std::vector<model::Condition>& c) {
  std::vector<const model::Condition*> p;
  for (const auto& x : c) p.push_back(&x);
  return p;
}

std::vector<double> column(const std::vector<double>& A, std::size_t n, std::size_t nb, std::size_t k) {
  std::vector<double> c(n);
  for (std::size_t i = 0; i < n; ++i) c[i] = A[i * nb + k];
  return c;
}

// Steady states of the conditions (batched Newton, checked converged).
std::vector<std::vector<double>> steady_states(const model::VectorField& f,
                                               const std::vector<model::Condition>& conds) {
  std::vector<std::vector<double>> xs(conds.size(), std::vector<double>(static_cast<std::size_t>(f.size()), 1.0));
  solvers::SteadyStateOptions o;
  o.atol = 1e-12;
  solvers::BatchedSteadyStateSolver solver(f, o);
  for (const auto& r : solver.solve(pointers(conds), xs, 4)) EXPECT_TRUE(r.converged);
  return xs;
}

TEST(CsrMatrix, TransposedAndManyColumnProductsMatchTheSingleProductsExactly) {
  const auto p = test_support::small_model(model::ModelKind::kMechanistic, 23, 0, 1);
  const auto& W = p.W;
  const auto Wt = W.transposed();
  ASSERT_EQ(Wt.nnz(), W.nnz());
  std::vector<double> x(23), y(23), z(23);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(3.0 * static_cast<double>(i));
  W.multiply_transpose(x.data(), y.data());
  Wt.multiply(x.data(), z.data());
  EXPECT_EQ(y, z);
  for (int nv : {1, 2, 3, 7, 16, 21, 35}) {  // every kernel width and their combinations
    const auto n = static_cast<std::size_t>(nv);
    std::vector<double> X(23 * n), Y(23 * n);
    for (std::size_t i = 0; i < X.size(); ++i) X[i] = std::sin(static_cast<double>(i));
    W.multiply_many(X.data(), Y.data(), nv);
    for (std::size_t k = 0; k < n; ++k) {
      const auto xk = column(X, 23, n, k);
      W.multiply(xk.data(), y.data());
      EXPECT_EQ(column(Y, 23, n, k), y) << "nvec " << nv << " column " << k;
    }
  }
}

class BatchedAdjointTest : public ::testing::TestWithParam<model::ModelKind> {};

TEST_P(BatchedAdjointTest, TransposedBatchProductEqualsPerColumnProduct) {
  const int G = 17, B = 6;
  const auto p = test_support::small_model(GetParam(), G, 3, 2);
  const model::VectorField f(p);
  const auto conds = knockdowns(G, B, 2);
  std::vector<double> X(static_cast<std::size_t>(G * B)), V(X.size()), JT(X.size());
  for (std::size_t i = 0; i < X.size(); ++i)
    X[i] = 0.3 + 0.07 * static_cast<double>(i % 13), V[i] = std::sin(1.3 * static_cast<double>(i));
  model::VectorField::BatchLinearization bl;
  f.linearize_batch(X.data(), B, pointers(conds), kInf, bl);
  f.jtvp_batch(bl, V.data(), JT.data());
  for (std::size_t k = 0; k < static_cast<std::size_t>(B); ++k) {
    const auto x = column(X, G, B, k), v = column(V, G, B, k);
    model::Linearization lin;
    f.linearize(x.data(), conds[k], kInf, lin);
    std::vector<double> jt(G);
    f.jtvp(lin, v.data(), jt.data());
    const auto got = column(JT, G, B, k);
    for (std::size_t g = 0; g < jt.size(); ++g) EXPECT_NEAR(got[g], jt[g], 1e-13 * (1 + std::fabs(jt[g])));
  }
}

TEST_P(BatchedAdjointTest, GmresColumnsSolveTheirSystemsWhateverTheBatch) {
  const int G = 30, B = 5;
  const auto p = test_support::small_model(GetParam(), G, 3, 2);
  const model::VectorField f(p);
  const auto conds = knockdowns(G, B, 2);
  const auto xs = steady_states(f, conds);
  std::vector<double> X(static_cast<std::size_t>(G * B)), rhs(X.size()), D(X.size()), sol(X.size());
  for (std::size_t g = 0; g < static_cast<std::size_t>(G); ++g)
    for (std::size_t k = 0; k < static_cast<std::size_t>(B); ++k)
      X[g * B + k] = xs[k][g], rhs[g * B + k] = std::cos(static_cast<double>(g + 7 * k));
  for (std::size_t g = 0; g < static_cast<std::size_t>(G); ++g) rhs[g * B + 2] = 0.0;  // a zero right-hand side
  const auto cp = pointers(conds);
  model::VectorField::BatchLinearization bl;
  f.linearize_batch(X.data(), B, cp, kInf, bl);
  f.jacobian_diagonal_batch(bl, D.data());
  const std::vector<double> target(B, 1e-10);
  solvers::BatchedGmres gmres(8);  // short restarts: several cycles
  const auto r = gmres.solve([&](const double* in, double* out) { f.jtvp_batch(bl, in, out); }, G, B, D.data(),
                             rhs.data(), sol.data(), target, 50);
  std::vector<double> check(X.size());
  f.jtvp_batch(bl, sol.data(), check.data());
  std::vector<double> norms;
  for (auto i = 0u; i < check.size(); ++i) check[i] -= rhs[i];
  solvers::column_norms(check.data(), G, B, norms);
  for (std::size_t k = 0; k < static_cast<std::size_t>(B); ++k) {
    EXPECT_TRUE(r.converged[k]) << k;
    EXPECT_LE(norms[k], 1e-9) << k;  // the true residual, not GMRES' estimate
  }
  EXPECT_EQ(r.iterations[2], 0);
  // Column 3 alone: bit-identical to the same column in the batch of five.
  model::Condition one = conds[3];
  model::VectorField::BatchLinearization b1;
  const auto x3 = column(X, G, B, 3), rhs3 = column(rhs, G, B, 3);
  f.linearize_batch(x3.data(), 1, {&one}, kInf, b1);
  std::vector<double> d1(G), s1(G);
  f.jacobian_diagonal_batch(b1, d1.data());
  const auto r1 = gmres.solve([&](const double* in, double* out) { f.jtvp_batch(b1, in, out); }, G, 1, d1.data(),
                              rhs3.data(), s1.data(), {1e-10}, 50);
  EXPECT_EQ(r1.iterations[0], r.iterations[3]);
  EXPECT_EQ(s1, column(sol, G, B, 3));
}

// Both batched paths: relaxation first (Gauss-Seidel for the mechanistic model, Richardson
// for the others) and GMRES from the start.
TEST_P(BatchedAdjointTest, AccumulateEqualsPerColumnAdjointAndProducts) {
  for (const double relaxation_rate : {0.5, 0.0}) {
    SCOPED_TRACE(relaxation_rate);
    const int G = 24, N = 7;  // batches of 3: two full, one of one
    const auto p = test_support::with_production_response(test_support::small_model(GetParam(), G, 3, 2));
    const model::VectorField f(p);
    const auto conds = knockdowns(G, N, 2);
    const auto xs = steady_states(f, conds);
    std::vector<std::vector<double>> rhs(N, std::vector<double>(G));
    RandomStream rs(4, StreamDomain::kStart, 11);
    for (auto& r : rhs)
      for (auto& v : r) v = rs.normal();
    std::vector<const std::vector<double>*> xp, rp;
    for (int k = 0; k < N; ++k)
      xp.push_back(&xs[static_cast<std::size_t>(k)]), rp.push_back(&rhs[static_cast<std::size_t>(k)]);

    solvers::BatchedSteadyStateAdjoint batched(f, 1e-12, 3, relaxation_rate);
    solvers::ParameterGradient gb(p);
    std::vector<std::vector<double>> kb;
    const auto report = batched.accumulate(pointers(conds), xp, rp, gb, &kb);
    EXPECT_GT(relaxation_rate > 0 ? report.relaxation_sweeps : report.iterations, 0);
    EXPECT_EQ(report.fallbacks, 0);

    solvers::SteadyStateAdjoint single(f, 1e-12);
    solvers::ParameterGradient gs(p);
    std::vector<double> lambda, ks;
    ASSERT_EQ(kb.size(), static_cast<std::size_t>(N));
    for (std::size_t k = 0; k < static_cast<std::size_t>(N); ++k) {
      single.solve(conds[k], xs[k], rhs[k], lambda);
      for (auto& l : lambda) l = -l;
      solvers::add_parameter_vjp(f, conds[k], xs[k], lambda, gs, &ks);
      ASSERT_EQ(kb[k].size(), ks.size());
      for (std::size_t i = 0; i < ks.size(); ++i) EXPECT_NEAR(kb[k][i], ks[i], 1e-8 * (1 + std::fabs(ks[i])));
    }
    const auto a = gb.flatten(), b = gs.flatten();
    double num = 0, den = 0;
    for (std::size_t i = 0; i < a.size(); ++i) num += (a[i] - b[i]) * (a[i] - b[i]), den += b[i] * b[i];
    ASSERT_GT(den, 0);
    EXPECT_LT(std::sqrt(num / den), 1e-9);
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, BatchedAdjointTest,
                         ::testing::Values(model::ModelKind::kMechanistic, model::ModelKind::kHybrid,
                                           model::ModelKind::kNeural));

TEST(BatchedGmres, NonFiniteRightHandSideIsNotConverged) {
  const std::size_t n = 4;
  const std::vector<double> D(n * 2, 1.0);
  std::vector<double> b{1, std::nan(""), 2, 0, 3, 0, 4, 0}, x(n * 2);
  solvers::BatchedGmres gmres(5);
  const auto r = gmres.solve([&](const double* in, double* out) { std::copy(in, in + n * 2, out); }, n, 2, D.data(),
                             b.data(), x.data(), {1e-12, 1e-12}, 3);
  EXPECT_TRUE(r.converged[0]);
  EXPECT_FALSE(r.converged[1]);
  for (std::size_t i = 0; i < n; ++i) EXPECT_NEAR(x[i * 2], b[i * 2], 1e-14);  // identity operator: x = b
}

}  // namespace
