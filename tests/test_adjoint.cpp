// Adjoint (implicit function theorem) gradients of a steady-state loss against central
// finite differences, parameter block by parameter block.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "perturbfit/core/random.hpp"
#include "perturbfit/solvers/adjoint.hpp"
#include "perturbfit/solvers/steady_state.hpp"
#include "test_support.hpp"

using namespace perturbfit;

namespace {

struct Problem {
  model::Condition cond;
  std::vector<double> target;
  // l = 1/2 ||x* - target||^2
  double loss(const model::ModelParameters& p, std::vector<double>* x_out = nullptr) const {
    bool converged = false;
    const auto x = test_support::tight_steady_state(p, cond, converged);
    EXPECT_TRUE(converged);
    double l = 0;
    for (std::size_t g = 0; g < x.size(); ++g) l += 0.5 * (x[g] - target[g]) * (x[g] - target[g]);
    if (x_out) *x_out = x;
    return l;
  }
};

class AdjointTest : public ::testing::TestWithParam<model::ModelKind> {};

TEST_P(AdjointTest, GradientMatchesFiniteDifferences) {
  const auto p = test_support::with_production_response(test_support::small_model(GetParam(), 12, 2, 2));
  Problem pr;
  pr.cond.medium = {0.6, -0.3};
  pr.cond.knock = {{1, 0.8}, {4, -0.4}};
  RandomStream rs(5, StreamDomain::kStart, 77);
  for (int g = 0; g < p.genes; ++g) pr.target.push_back(rs.uniform() * 3);

  std::vector<double> x;
  pr.loss(p, &x);
  std::vector<double> dl(x.size());
  for (std::size_t g = 0; g < x.size(); ++g) dl[g] = x[g] - pr.target[g];
  const model::VectorField f(p);
  solvers::SteadyStateAdjoint adjoint(f);
  solvers::ParameterGradient grad(p);
  EXPECT_GT(adjoint.accumulate(pr.cond, x, dl, grad), 0);

  using Block =
      std::pair<std::vector<double> model::ModelParameters::*, std::vector<double> solvers::ParameterGradient::*>;
  const std::vector<std::pair<const char*, Block>> blocks = {
      {"W", {nullptr, &solvers::ParameterGradient::W}},
      {"U", {&model::ModelParameters::U, &solvers::ParameterGradient::U}},
      {"c", {&model::ModelParameters::c, &solvers::ParameterGradient::c}},
      {"v", {&model::ModelParameters::v, &solvers::ParameterGradient::v}},
      {"beta", {&model::ModelParameters::beta, &solvers::ParameterGradient::beta}},
      {"gamma", {&model::ModelParameters::gamma, &solvers::ParameterGradient::gamma}},
      {"A", {&model::ModelParameters::A, &solvers::ParameterGradient::A}},
      {"B", {&model::ModelParameters::B, &solvers::ParameterGradient::B}},
      {"C", {&model::ModelParameters::C, &solvers::ParameterGradient::C}},
      {"d", {&model::ModelParameters::d, &solvers::ParameterGradient::d}},
      {"Q", {&model::ModelParameters::Q, &solvers::ParameterGradient::Q}},
  };
  for (const auto& [name, block] : blocks) {
    auto values = [&](model::ModelParameters& q) -> std::vector<double>& {
      return block.first ? q.*(block.first) : q.W.val;
    };
    const auto& g = grad.*(block.second);
    model::ModelParameters q = p;
    if (values(q).empty()) continue;
    // a random direction in this block: directional derivative vs central difference
    std::vector<double> dir(values(q).size());
    double dot = 0;
    for (std::size_t i = 0; i < dir.size(); ++i) dir[i] = rs.uniform() - 0.5, dot += g[i] * dir[i];
    const double h = 1e-5;
    model::ModelParameters plus = p, minus = p;
    for (std::size_t i = 0; i < dir.size(); ++i) values(plus)[i] += h * dir[i], values(minus)[i] -= h * dir[i];
    const double fd = (pr.loss(plus) - pr.loss(minus)) / (2 * h);
    EXPECT_NEAR(dot, fd, 1e-6 * (1 + std::fabs(fd))) << "block " << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, AdjointTest,
                         ::testing::Values(model::ModelKind::kMechanistic, model::ModelKind::kHybrid,
                                           model::ModelKind::kNeural));

}  // namespace

namespace {
// The gradient and the parameter vector share one order (model::for_each_part): a vector
// packed from the model and unflattened into a gradient lands part by part.
TEST(ParameterGradient, SharesTheParameterVectorsOrder) {
  auto p = test_support::with_production_response(test_support::small_model(model::ModelKind::kHybrid, 7, 2, 3));
  const auto theta = model::pack_parameters(p);
  ASSERT_EQ(theta.size(), model::parameter_count(p));
  std::vector<double> distinct(theta.size());
  for (std::size_t i = 0; i < distinct.size(); ++i) distinct[i] = static_cast<double>(i);
  model::unpack_parameters(distinct.data(), p);
  solvers::ParameterGradient g(p);
  g.unflatten(distinct.data());
  EXPECT_EQ(g.W, p.W.val);
  EXPECT_EQ(g.U, p.U);
  EXPECT_EQ(g.c, p.c);
  EXPECT_EQ(g.gamma, p.gamma);
  EXPECT_EQ(g.A, p.A);
  EXPECT_EQ(g.d, p.d);
  EXPECT_EQ(g.Q, p.Q);
  EXPECT_EQ(distinct.back(), p.Q.back());  // Q is the last part
  EXPECT_EQ(g.flatten(), distinct);
  const model::ParameterLayout layout(p);
  EXPECT_EQ(distinct[layout.U], p.U.at(0));
  EXPECT_EQ(distinct[layout.C], p.C.at(0));
  g.add(g);
  EXPECT_DOUBLE_EQ(g.B.at(0), 2.0 * p.B.at(0));
}
}  // namespace
