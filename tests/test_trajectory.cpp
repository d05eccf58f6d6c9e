// Time courses and their CVODES adjoint gradients: against the analytic solution of a linear
// system and against central finite differences for every parameter block, kappa (with
// an onset) and the initial state.
#include <gtest/gtest.h>

#include <cmath>

#include "perturbfit/core/random.hpp"
#include "perturbfit/solvers/trajectory.hpp"
#include "test_support.hpp"

using namespace perturbfit;

namespace {

const solvers::TrajectoryOptions kTight{{1e-11, 1e-13, 200000}, 50};

// l = sum_i 1/2 ||x(t_i) - target_i||^2 over the sampled times.
struct Loss {
  model::Condition cond;
  std::vector<double> x0, times;
  std::vector<std::vector<double>> targets;
  double operator()(const model::ModelParameters& p, std::vector<std::vector<double>>* dl = nullptr) const {
    const model::VectorField f(p);
    solvers::Trajectory tr(f, kTight);
    std::vector<std::vector<double>> xs;
    EXPECT_TRUE(tr.forward(cond, x0, times, xs, false).ok);
    double l = 0;
    if (dl) dl->assign(times.size(), {});
    for (std::size_t i = 0; i < times.size(); ++i)
      for (std::size_t g = 0; g < xs[i].size(); ++g) {
        const double r = xs[i][g] - targets[i][g];
        l += 0.5 * r * r;
        if (dl) (*dl)[i].push_back(r);
      }
    return l;
  }
};

}  // namespace

TEST(Trajectory, RelaxationMatchesTheExponentialSolution) {
  // W = 0, no neural part: x_g' = v_g sigma(c_g) + beta_g - gamma_g x_g, solved in closed form.
  auto p = test_support::small_model(model::ModelKind::kMechanistic, 6, 0, 1);
  for (auto& w : p.W.val) w = 0.0;
  const model::VectorField f(p);
  solvers::Trajectory tr(f, kTight);
  model::Condition cond{{0.0}, {}, 0.0};
  std::vector<double> x0(6, 0.3);
  std::vector<std::vector<double>> xs;
  const std::vector<double> times{0.0, 0.5, 2.0, 7.0};
  ASSERT_TRUE(tr.forward(cond, x0, times, xs, false).ok);
  for (std::size_t i = 0; i < times.size(); ++i)
    for (std::size_t g = 0; g < 6; ++g) {
      const double xinf = (p.v[g] * model::logistic(p.c[g]) + p.beta[g]) / p.gamma[g];  // medium 0: no U term
      const double exact = xinf + (0.3 - xinf) * std::exp(-p.gamma[g] * times[i]);
      EXPECT_NEAR(xs[i][g], exact, 1e-8 * std::max(1.0, std::abs(exact))) << "t=" << times[i] << " g=" << g;
    }
}

class TrajectoryGradient : public ::testing::TestWithParam<model::ModelKind> {};

TEST_P(TrajectoryGradient, MatchesFiniteDifferences) {
  const auto p = test_support::with_production_response(test_support::small_model(GetParam(), 10, 2, 2));
  Loss loss;
  loss.cond.medium = {0.6, -0.3};
  loss.cond.knock = {{1, 0.8}, {4, -0.4}};
  loss.cond.tau = 1.5;  // a gradual onset: kappa(t) enters the gradient through time
  loss.times = {0.0, 0.7, 0.7, 3.0, 9.0};  // repeated times: two groups at one time
  RandomStream rs(5, StreamDomain::kStart, 77);
  for (int g = 0; g < p.genes; ++g) loss.x0.push_back(0.2 + rs.uniform());
  for (std::size_t i = 0; i < loss.times.size(); ++i) {
    loss.targets.emplace_back();
    for (int g = 0; g < p.genes; ++g) loss.targets.back().push_back(rs.uniform() * 2);
  }
  std::vector<std::vector<double>> dl;
  loss(p, &dl);
  const model::VectorField f(p);
  solvers::Trajectory tr(f, kTight);
  std::vector<std::vector<double>> xs;
  ASSERT_TRUE(tr.forward(loss.cond, loss.x0, loss.times, xs, true).ok);
  solvers::ParameterGradient grad(p);
  std::vector<double> knock_grad, lambda0;
  const auto report = tr.gradient(dl, grad, knock_grad, lambda0);
  ASSERT_TRUE(report.ok) << report.message;
  EXPECT_GT(report.steps, 0);

  const double h = 1e-5;
  auto check = [&](const char* name, double adjoint, double fd) {
    EXPECT_NEAR(adjoint, fd, 1e-6 * std::max(1.0, std::abs(fd))) << name;
  };
  // Every parameter block along a random direction.
  const auto flat = grad.flatten();
  const auto theta = model::pack_parameters(p);
  ASSERT_EQ(flat.size(), theta.size());
  std::vector<std::pair<std::size_t, std::size_t>> blocks;
  {
    const model::ParameterLayout L(p);
    const std::vector<std::size_t> starts{L.W, L.U, L.c, L.v, L.beta, L.gamma, L.A, L.B, L.C, L.d, L.Q, L.size};
    for (std::size_t b = 0; b + 1 < starts.size(); ++b)
      if (starts[b + 1] > starts[b]) blocks.emplace_back(starts[b], starts[b + 1]);
  }
  for (const auto& [first, last] : blocks) {
    std::vector<double> dir(theta.size(), 0.0);
    double adjoint = 0;
    for (std::size_t i = first; i < last; ++i) dir[i] = rs.uniform() - 0.5, adjoint += flat[i] * dir[i];
    auto at = [&](double s) {
      auto q = p;
      auto t = theta;
      for (std::size_t i = 0; i < t.size(); ++i) t[i] += s * dir[i];
      model::unpack_parameters(t.data(), q);
      return loss(q);
    };
    check(("block at " + std::to_string(first)).c_str(), adjoint, (at(h) - at(-h)) / (2 * h));
  }
  // kappa of each knock entry.
  for (std::size_t k = 0; k < loss.cond.knock.size(); ++k) {
    Loss plus = loss, minus = loss;
    plus.cond.knock[k].second += h, minus.cond.knock[k].second -= h;
    check("kappa", knock_grad[k], (plus(p) - minus(p)) / (2 * h));
  }
  // The initial state.
  for (int g : {0, 3, 9}) {
    Loss plus = loss, minus = loss;
    plus.x0[static_cast<std::size_t>(g)] += h, minus.x0[static_cast<std::size_t>(g)] -= h;
    check("x0", lambda0[static_cast<std::size_t>(g)], (plus(p) - minus(p)) / (2 * h));
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, TrajectoryGradient,
                         ::testing::Values(model::ModelKind::kMechanistic, model::ModelKind::kHybrid,
                                           model::ModelKind::kNeural));

TEST(Trajectory, GradientWithoutARecordedPassIsRefused) {
  const auto p = test_support::small_model(model::ModelKind::kMechanistic, 5, 0, 1);
  const model::VectorField f(p);
  solvers::Trajectory tr(f, kTight);
  solvers::ParameterGradient grad(p);
  std::vector<double> kg, l0;
  EXPECT_THROW(tr.gradient({{}}, grad, kg, l0), std::logic_error);
}
