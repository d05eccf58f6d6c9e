// The optimiser's parts against known answers: the projected L-BFGS on bound-constrained
// problems with known minimisers (and its restart from a saved state), early stopping's
// selection rule, and the small dense algebra.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "perturbfit/core/error.hpp"
#include "perturbfit/fit/early_stopping.hpp"
#include "perturbfit/fit/lbfgs.hpp"
#include "perturbfit/solvers/small_dense.hpp"

using namespace perturbfit;

namespace {
// Rosenbrock in n/2 pairs, minimum 0 at (1, ..., 1) unless a bound cuts it.
double rosenbrock(const std::vector<double>& x, std::vector<double>& g) {
  double f = 0;
  g.assign(x.size(), 0.0);
  for (std::size_t i = 0; i + 1 < x.size(); i += 2) {
    const double a = x[i + 1] - x[i] * x[i], b = 1 - x[i];
    f += 100 * a * a + b * b;
    g[i] += -400 * a * x[i] - 2 * b, g[i + 1] += 200 * a;
  }
  return f;
}

fit::LbfgsState start(std::size_t n) {
  fit::LbfgsState st;
  st.x.assign(n, -1.2);
  return st;
}
}  // namespace

TEST(ProjectedLbfgs, MinimisesRosenbrock) {
  const std::size_t n = 10;
  fit::ProjectedLbfgs opt(std::vector<double>(n, -5), std::vector<double>(n, 5), 10, 1e-9);
  auto st = start(n);
  int it = 0;
  while (opt.iterate(st, rosenbrock) == fit::ProjectedLbfgs::Status::kContinue && it < 500) ++it;
  for (double v : st.x) EXPECT_NEAR(v, 1.0, 1e-6);
  EXPECT_LT(it, 200);
}

TEST(ProjectedLbfgs, StepsBackFromATrialWhoseObjectiveFails) {
  // Where the fit's objective cannot be evaluated (every steady state failed) it returns
  // infinity and leaves the gradient untouched; the search must step back, not read it.
  const std::size_t n = 4;
  fit::ProjectedLbfgs opt(std::vector<double>(n, -5), std::vector<double>(n, 5), 10, 1e-9);
  auto st = start(n);
  int calls = 0, failures = 0;
  const fit::ProjectedLbfgs::Objective failing_far = [&](const std::vector<double>& x, std::vector<double>& g) {
    // The first trial of the first search fails (call 1 evaluates the start), and so does
    // every point far from the start.
    bool far = false;
    for (double v : x) far = far || std::abs(v) > 1.6;
    if (++calls == 2 || far) return ++failures, std::numeric_limits<double>::infinity();
    return rosenbrock(x, g);
  };
  int it = 0;
  while (opt.iterate(st, failing_far) == fit::ProjectedLbfgs::Status::kContinue && it < 500) ++it;
  for (double v : st.x) EXPECT_NEAR(v, 1.0, 1e-6);
  EXPECT_GT(failures, 0);
}

TEST(ProjectedLbfgs, StopsOnAnActiveBound) {
  // x_1 <= 0.5 cuts the minimum: the solution is x_1 = 0.5, x_2 = 0.25 (x_2 = x_1^2).
  fit::ProjectedLbfgs opt({-5, -5}, {0.5, 5}, 10, 1e-9);
  auto st = start(2);
  int it = 0;
  fit::ProjectedLbfgs::Status status;
  while ((status = opt.iterate(st, rosenbrock)) == fit::ProjectedLbfgs::Status::kContinue && it < 500) ++it;
  EXPECT_EQ(status, fit::ProjectedLbfgs::Status::kConverged);
  EXPECT_DOUBLE_EQ(st.x[0], 0.5);
  EXPECT_NEAR(st.x[1], 0.25, 1e-6);
  EXPECT_LT(opt.projected_gradient_norm(st), 1e-9);
}

TEST(ProjectedLbfgs, RebuiltFromItsStateRetracesTheSameIterates) {
  // Run A: 20 iterations, rebuild at 10 (as at a checkpoint). Run B: a fresh optimiser
  // from A's state at 10 (as a restarted process). Their iterates must agree to the bit.
  const std::size_t n = 6;
  const std::vector<double> lo(n, -5), hi(n, 5);
  fit::ProjectedLbfgs a(lo, hi, 5, 0);
  auto st = start(n);
  fit::LbfgsState saved;
  std::vector<std::vector<double>> path_a;
  for (int it = 1; it <= 20; ++it) {
    a.iterate(st, rosenbrock);
    if (it == 10) saved = st, a.rebuild(st);
    if (it > 10) path_a.push_back(st.x);
  }
  fit::ProjectedLbfgs b(lo, hi, 5, 0);
  b.rebuild(saved);
  for (int it = 11; it <= 20; ++it) {
    b.iterate(saved, rosenbrock);
    ASSERT_EQ(saved.x, path_a[static_cast<std::size_t>(it - 11)]) << "iteration " << it;
  }
  EXPECT_LE(saved.points.size(), 6u);  // memory + 1 updates kept
}

TEST(ProjectedLbfgs, AnObserverSeesTheAcceptedSteps) {
  fit::ProjectedLbfgs opt({-5, -5}, {5, 5}, 5, 1e-9);
  auto st = start(2);
  int keeps = 0, accepts = 0;
  const fit::ProjectedLbfgs::Observer observer{[&] { ++keeps; }, [&] { ++accepts; }};
  for (int it = 0; it < 5; ++it) opt.iterate(st, rosenbrock, observer);
  EXPECT_EQ(accepts, 6);  // the initial point, then one per iteration
  EXPECT_GE(keeps, accepts);
}

TEST(EarlyStopping, SelectsTheLatestIterateWithinTheStandardErrorAndRunsOutOfPatience) {
  fit::EarlyStopping es;
  EXPECT_FALSE(es.record(0, {0.0}, {1.0, 2.0, 3.0}, 2));
  EXPECT_EQ(es.best_iteration, 0);
  // Worse on every group by 0.5: not within noise (differences have no spread).
  EXPECT_FALSE(es.record(5, {5.0}, {1.5, 2.5, 3.5}, 2));
  EXPECT_EQ(es.selected_iteration, 0);
  // Worse on average by 0.1 but with a spread of differences larger than that: a tie,
  // the later iterate is selected. Two checks without a new best: patience of 2 runs out.
  EXPECT_TRUE(es.record(10, {10.0}, {0.5, 2.8, 3.0}, 2));
  EXPECT_EQ(es.selected_iteration, 10);
  EXPECT_EQ(es.selected_theta, std::vector<double>{10.0});
  EXPECT_EQ(es.best_iteration, 0);
  // A new best resets everything.
  EXPECT_FALSE(es.record(15, {15.0}, {0.5, 1.0, 1.0}, 2));
  EXPECT_EQ(es.best_iteration, 15);
  EXPECT_EQ(es.selected_iteration, 15);
  EXPECT_EQ(es.checks_since_best, 0);
  // A group whose steady state failed (NaN) is left out of the mean and the pairs.
  EXPECT_FALSE(es.record(20, {20.0}, {std::nan(""), 0.5, 0.5}, 0));
  EXPECT_EQ(es.best_iteration, 20);
}

TEST(SmallDense, SolvesASymmetricPositiveDefiniteSystem) {
  std::vector<double> A{4, 1, 1, 3}, B{1, 2, 2, 1};  // two right-hand sides, row-major
  solvers::solve_spd(2, A, B, 2);
  // A^-1 = [3 -1; -1 4] / 11
  EXPECT_NEAR(B[0], (3 * 1 - 1 * 2) / 11.0, 1e-14);
  EXPECT_NEAR(B[1], (3 * 2 - 1 * 1) / 11.0, 1e-14);
  EXPECT_NEAR(B[2], (-1 * 1 + 4 * 2) / 11.0, 1e-14);
  EXPECT_NEAR(B[3], (-1 * 2 + 4 * 1) / 11.0, 1e-14);
  std::vector<double> indefinite{1, 2, 2, 1}, rhs{1, 1};
  EXPECT_THROW(solvers::solve_spd(2, indefinite, rhs, 1), NumericalError);
}

TEST(SmallDense, OrthonormalisesAndZeroesDependentColumns) {
  // 3 x 3, third column = first + second.
  std::vector<double> Q{1, 1, 2, 0, 1, 1, 1, 0, 1};
  solvers::orthonormalize_columns(3, 3, Q);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) {
      double dot = 0;
      for (int r = 0; r < 3; ++r)
        dot += Q[static_cast<std::size_t>(r * 3 + i)] * Q[static_cast<std::size_t>(r * 3 + j)];
      EXPECT_NEAR(dot, i == j ? 1.0 : 0.0, 1e-14);
    }
  for (int r = 0; r < 3; ++r) EXPECT_EQ(Q[static_cast<std::size_t>(r * 3 + 2)], 0.0);
}
