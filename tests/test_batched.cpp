// The batched forms (one pass over W for many columns) against the per-column ones, and
// the lockstep batched Newton-GMRES against PETSc SNES.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "perturbfit/model/generators.hpp"
#include "perturbfit/solvers/batched_steady_state.hpp"
#include "test_support.hpp"

using namespace perturbfit;

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

std::vector<model::Condition> conditions(int genes, int n, int media) {
  std::vector<model::Condition> c(static_cast<std::size_t>(n));
  for (int k = 0; k < n; ++k) {
    c[static_cast<std::size_t>(k)].medium.assign(static_cast<std::size_t>(media), 0.3 * k - 0.5);
    if (k > 0) c[static_cast<std::size_t>(k)].knock = {{k % genes, 0.9}, {(3 * k) % genes, k % 2 ? -0.5 : 0.4}};
    c[static_cast<std::size_t>(k)].tau = 2.0;
  }
  return c;
}

class BatchTest : public ::testing::TestWithParam<model::ModelKind> {};

TEST_P(BatchTest, BatchedProductsEqualPerColumnProducts) {
  const auto p = test_support::small_model(GetParam(), 18, 3, 2);
  const model::VectorField f(p);
  const int G = 18, B = 5;
  const auto conds = conditions(G, B, 2);
  std::vector<const model::Condition*> cp;
  for (const auto& c : conds) cp.push_back(&c);
  std::vector<double> X(static_cast<std::size_t>(G * B)), V(X.size()), F(X.size()), JV(X.size()), D(X.size());
  for (std::size_t i = 0; i < X.size(); ++i)
    X[i] = 0.2 + 0.1 * static_cast<double>(i % 17), V[i] = std::sin(static_cast<double>(i));
  for (double t : {1.5, kInf}) {
    f.evaluate_batch(X.data(), B, cp, t, F.data());
    model::VectorField::BatchLinearization bl;
    f.linearize_batch(X.data(), B, cp, t, bl);
    f.jvp_batch(bl, V.data(), JV.data());
    f.jacobian_diagonal_batch(bl, D.data());
    for (int k = 0; k < B; ++k) {
      std::vector<double> x(G), v(G), fk(G), jv(G), d(G);
      for (int g = 0; g < G; ++g)
        x[static_cast<std::size_t>(g)] = X[static_cast<std::size_t>(g * B + k)],
        v[static_cast<std::size_t>(g)] = V[static_cast<std::size_t>(g * B + k)];
      f.evaluate(x.data(), conds[static_cast<std::size_t>(k)], t, fk.data());
      model::Linearization lin;
      f.linearize(x.data(), conds[static_cast<std::size_t>(k)], t, lin);
      f.jvp(lin, v.data(), jv.data());
      f.jacobian_diagonal(lin, d.data());
      for (int g = 0; g < G; ++g) {
        const auto i = static_cast<std::size_t>(g * B + k);
        EXPECT_NEAR(F[i], fk[static_cast<std::size_t>(g)], 1e-13);
        EXPECT_NEAR(JV[i], jv[static_cast<std::size_t>(g)], 1e-13);
        EXPECT_NEAR(D[i], d[static_cast<std::size_t>(g)], 1e-13);
      }
    }
  }
}

// Both batched paths: relaxation first, then Newton-GMRES for what it leaves (the default),
// and Newton-GMRES from the start (relaxation_rate = 0).
TEST_P(BatchTest, BatchedNewtonAgreesWithSnes) {
  for (const double relaxation_rate : {0.5, 0.0}) {
    SCOPED_TRACE(relaxation_rate);
    const int G = 40, N = 37;  // more columns than one batch: chunks of 16
    const auto p = test_support::small_model(GetParam(), G, 3, 2);
    const model::VectorField f(p);
    solvers::SteadyStateOptions o;
    o.relaxation_rate = relaxation_rate;
    const auto conds = conditions(G, N, 2);
    std::vector<const model::Condition*> cp;
    for (const auto& c : conds) cp.push_back(&c);
    std::vector<std::vector<double>> xs(N, std::vector<double>(G, 1.0));
    solvers::BatchedSteadyStateSolver batched(f, o);
    const auto reports = batched.solve(cp, xs, 16);
    solvers::SteadyStateSolver snes(f, o);
    for (int k = 0; k < N; ++k) {
      ASSERT_TRUE(reports[static_cast<std::size_t>(k)].converged)
          << k << " " << reports[static_cast<std::size_t>(k)].residual_norm;
      EXPECT_LE(reports[static_cast<std::size_t>(k)].residual_norm, o.atol);
      std::vector<double> y(G, 1.0);
      ASSERT_TRUE(snes.solve(conds[static_cast<std::size_t>(k)], y).converged);
      for (int g = 0; g < G; ++g)
        EXPECT_NEAR(xs[static_cast<std::size_t>(k)][static_cast<std::size_t>(g)], y[static_cast<std::size_t>(g)], 1e-8);
    }
    EXPECT_GT(batched.passes_over_w(), 0);
    int sweeps = 0;
    for (const auto& r : reports) sweeps += r.relaxation_sweeps;
    EXPECT_EQ(sweeps > 0, relaxation_rate > 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, BatchTest,
                         ::testing::Values(model::ModelKind::kMechanistic, model::ModelKind::kHybrid,
                                           model::ModelKind::kNeural));

TEST(BatchedNewton, ToggleColumnsReachTheirOwnAttractors) {
  const auto p = model::toggle_switch(0, 0.0);
  const model::VectorField f(p);
  const model::Condition c;
  std::vector<const model::Condition*> cp{&c, &c};
  std::vector<std::vector<double>> xs{{3.0, 0.1}, {0.1, 3.0}};
  solvers::BatchedSteadyStateSolver batched(f, {});
  const auto r = batched.solve(cp, xs);
  ASSERT_TRUE(r[0].converged && r[1].converged);
  EXPECT_GT(xs[0][0], 3 * xs[0][1]);
  EXPECT_GT(xs[1][1], 3 * xs[1][0]);
}

TEST(BatchedNewton, NonConvergedColumnsAreReportedAndLeftUntouched) {
  const auto p = test_support::small_model(model::ModelKind::kMechanistic, 20, 0, 1);
  const model::VectorField f(p);
  solvers::SteadyStateOptions o;
  o.max_iterations = 1;
  o.atol = 1e-30;  // below rounding: relaxation stalls and hands over, one Newton step cannot
  model::Condition c;
  c.medium = {0.0};
  std::vector<const model::Condition*> cp{&c};
  std::vector<std::vector<double>> xs{std::vector<double>(20, 50.0)};
  solvers::BatchedSteadyStateSolver batched(f, o);
  const auto r = batched.solve(cp, xs);
  EXPECT_FALSE(r[0].converged);
  EXPECT_EQ(xs[0], std::vector<double>(20, 50.0));
}

}  // namespace
