#include <gtest/gtest.h>

#include <cmath>

#include "perturbfit/solvers/ode_integrator.hpp"

using namespace perturbfit;

namespace {
model::ModelParameters decoupled(double growth) {
  model::ModelParameters p;
  p.genes = 2;
  p.gene_names = {"a", "b"};
  p.W = model::CsrMatrix::from_triplets(2, 2, {}, {}, {});
  p.c = {0.0, 1.0};
  p.v = {2.0, 1.0};
  p.beta = {0.0, 0.5};
  p.gamma = {0.5, 2.0};
  p.growth_rate = growth;
  p.fitness = {0.1, 0.0};
  return p;
}
}  // namespace

TEST(OdeIntegrator, RelaxationMatchesTheExponentialSolution) {
  const auto p = decoupled(0.0);
  const model::VectorField f(p);
  solvers::OdeIntegrator ode(f, {1e-9, 1e-12, 100000});
  model::Condition cond;
  std::vector<double> x{4.0, 0.0};
  const auto r = ode.integrate(cond, 0.0, 1.7, x);
  ASSERT_TRUE(r.ok) << r.message;
  for (int g = 0; g < 2; ++g) {
    const auto i = static_cast<std::size_t>(g);
    const double xs = (p.v[i] * model::logistic(p.c[i]) + p.beta[i]) / p.gamma[i];
    const double x0 = g == 0 ? 4.0 : 0.0;
    EXPECT_NEAR(x[i], xs + (x0 - xs) * std::exp(-p.gamma[i] * 1.7), 1e-7);
  }
}

TEST(OdeIntegrator, LogWeightIntegratesTheGrowthRate) {
  const auto p = decoupled(0.03);
  const model::VectorField f(p);
  solvers::OdeIntegrator ode(f, {1e-10, 1e-12, 100000});
  model::Condition cond;
  const double xs = p.v[0] * 0.5 / p.gamma[0];  // gene a starts at its steady state and stays
  std::vector<double> x{xs, (p.v[1] * model::logistic(1.0) + p.beta[1]) / p.gamma[1]};
  double lw = 0.0;
  ASSERT_TRUE(ode.integrate(cond, 0.0, 10.0, x, &lw).ok);
  EXPECT_NEAR(lw, (0.03 + 0.1 * xs) * 10.0, 1e-7);
}

TEST(OdeIntegrator, DelayedOnsetActsGradually) {
  const auto p = decoupled(0.0);
  const model::VectorField f(p);
  solvers::OdeIntegrator ode(f, {1e-9, 1e-12, 100000});
  model::Condition instant, delayed;
  instant.knock = delayed.knock = {{0, 0.9}};
  delayed.tau = 5.0;
  const double xs = p.v[0] * 0.5 / p.gamma[0];
  std::vector<double> a{xs, 0.0}, b{xs, 0.0};
  ASSERT_TRUE(ode.integrate(instant, 0.0, 2.0, a).ok);
  ASSERT_TRUE(ode.integrate(delayed, 0.0, 2.0, b).ok);
  EXPECT_LT(a[0], b[0]);  // the delayed knockdown has removed less
  EXPECT_LT(b[0], xs);    // but has started
}
