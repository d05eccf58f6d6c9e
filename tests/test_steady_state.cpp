#include <gtest/gtest.h>

#include <cmath>

#include "perturbfit/model/generators.hpp"
#include "perturbfit/solvers/steady_state.hpp"
#include "test_support.hpp"

using namespace perturbfit;

namespace {

// Two genes with no regulation: x* = ((1 - kappa) v sigma(c + U m) + beta) / gamma exactly.
model::ModelParameters two_gene_linear() {
  model::ModelParameters p;
  p.genes = 2;
  p.media = 1;
  p.gene_names = {"a", "b"};
  p.W = model::CsrMatrix::from_triplets(2, 2, {}, {}, {});
  p.U = {0.5, -1.0};
  p.c = {0.2, -0.3};
  p.v = {3.0, 2.0};
  p.beta = {0.1, 0.4};
  p.gamma = {0.7, 1.3};
  p.fitness = {0.0, 0.0};
  return p;
}

TEST(SteadyState, TwoGeneSystemMatchesTheAnalyticSolution) {
  const auto p = two_gene_linear();
  const model::VectorField f(p);
  solvers::SteadyStateSolver solver(f, {});
  model::Condition cond;
  cond.medium = {0.8};
  cond.knock = {{1, 0.75}};
  std::vector<double> x{5.0, 5.0};
  const auto r = solver.solve(cond, x);
  ASSERT_TRUE(r.converged) << r.snes_reason;
  EXPECT_EQ(r.method, solvers::SolveMethod::kNewton);
  for (int g = 0; g < 2; ++g) {
    const double kappa = g == 1 ? 0.75 : 0.0;
    const double s = p.c[static_cast<std::size_t>(g)] + p.U[static_cast<std::size_t>(g)] * 0.8;
    const double expect =
        ((1 - kappa) * p.v[static_cast<std::size_t>(g)] * model::logistic(s) + p.beta[static_cast<std::size_t>(g)]) /
        p.gamma[static_cast<std::size_t>(g)];
    EXPECT_NEAR(x[static_cast<std::size_t>(g)], expect, 1e-10);
  }
  EXPECT_TRUE(r.stable);
  EXPECT_EQ(r.stability_method, solvers::StabilityMethod::kGershgorin);
}

TEST(SteadyState, ToggleSwitchReachesDifferentAttractorsAndFindsTheSaddle) {
  const auto p = model::toggle_switch(0, 0.0);
  const model::VectorField f(p);
  solvers::SteadyStateSolver solver(f, {});
  const model::Condition cond;
  std::vector<double> a{3.0, 0.1}, b{0.1, 3.0}, s{1.0, 1.0};
  const auto ra = solver.solve(cond, a), rb = solver.solve(cond, b), rs = solver.solve(cond, s);
  ASSERT_TRUE(ra.converged && rb.converged && rs.converged);
  EXPECT_GT(a[0], 3.0 * a[1]);    // A high, B low
  EXPECT_GT(b[1], 3.0 * b[0]);    // B high, A low
  EXPECT_NEAR(a[0], b[1], 1e-8);  // mirror images
  EXPECT_TRUE(ra.stable);
  EXPECT_TRUE(rb.stable);
  // From the symmetric start Newton stays symmetric and lands on the saddle: the report says unstable.
  EXPECT_NEAR(s[0], s[1], 1e-10);
  EXPECT_EQ(rs.stability_method, solvers::StabilityMethod::kCayleyPower);
  EXPECT_FALSE(rs.stable);
  EXPECT_GT(rs.leading_eigenvalue, 0.0);
  // The saddle's leading eigenvalue is a_1 * 4 - 1 (J = [[-1, -4a], [-4a, -1]]).
  const double sig = model::logistic(4.0 - 4.0 * s[1]);
  EXPECT_NEAR(rs.leading_eigenvalue, 4.0 * sig * (1 - sig) * 4.0 - 1.0, 0.05);
}

TEST(SteadyState, CayleyTestAgreesWithGershgorinOnAStableHybridModel) {
  const auto p = test_support::small_model(model::ModelKind::kHybrid, 20, 3, 1);
  const model::VectorField f(p);
  solvers::SteadyStateSolver solver(f, {});
  model::Condition cond;
  cond.medium = {0.0};
  std::vector<double> x(20, 1.0);
  auto r = solver.solve(cond, x);
  ASSERT_TRUE(r.converged);
  EXPECT_TRUE(r.stable);
  // Force the power iteration and check the eigenvalue estimate is negative too.
  solvers::SteadyStateReport forced;
  solvers::SteadyStateOptions o;
  o.stability_iterations = 60;
  solvers::SteadyStateSolver s2(f, o);
  s2.assess_stability(cond, x, forced);
  EXPECT_TRUE(forced.stable);
}

TEST(SteadyState, FallsBackToIntegrationWhenNewtonIsCutShort) {
  const auto p = test_support::small_model(model::ModelKind::kMechanistic, 30, 0, 1);
  const model::VectorField f(p);
  solvers::SteadyStateOptions o;
  o.max_iterations = 3;  // too few for Newton from far away, enough to polish an integrated state
  solvers::SteadyStateSolver solver(f, o);
  model::Condition cond;
  cond.medium = {0.0};
  std::vector<double> x(30, 10.0);
  const auto r = solver.solve(cond, x);
  ASSERT_TRUE(r.converged) << solvers::to_string(r.method) << " " << r.residual_norm << " " << r.snes_reason << " "
                           << r.newton_iterations;
  EXPECT_EQ(r.method, solvers::SolveMethod::kCvodesNewton);
  EXPECT_LE(r.residual_norm, o.atol);
  o.fallback = false;
  solvers::SteadyStateSolver strict(f, o);
  std::vector<double> y(30, 10.0);
  const auto rf = strict.solve(cond, y);
  EXPECT_FALSE(rf.converged);
  EXPECT_EQ(rf.method, solvers::SolveMethod::kFailed);
}

TEST(SteadyState, NewtonAgreesWithLongTimeIntegration) {
  const auto p = test_support::small_model(model::ModelKind::kHybrid, 25, 2, 2);
  const model::VectorField f(p);
  solvers::SteadyStateSolver solver(f, {});
  solvers::OdeIntegrator ode(f, {1e-10, 1e-12, 200000});
  model::Condition cond;
  cond.medium = {0.5, -0.5};
  cond.knock = {{3, 0.9}};
  std::vector<double> x(25, 1.0), y(25, 1.0);
  ASSERT_TRUE(solver.solve(cond, x).converged);
  ASSERT_TRUE(ode.integrate(cond, 0.0, 100.0, y).ok);
  for (int g = 0; g < 25; ++g) EXPECT_NEAR(x[static_cast<std::size_t>(g)], y[static_cast<std::size_t>(g)], 1e-6);
}

}  // namespace
