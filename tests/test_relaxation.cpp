// The relaxation that starts the batched solvers: the vectorised logistic, the Gauss-Seidel
// sweeps (steady state and adjoint) against the residuals and solutions they must agree
// with, the schedule's decisions, and the batched solver handing slow columns to Newton.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "perturbfit/model/relaxation.hpp"
#include "perturbfit/solvers/adjoint.hpp"
#include "perturbfit/solvers/batched_gmres.hpp"
#include "perturbfit/solvers/batched_steady_state.hpp"
#include "perturbfit/solvers/relaxation_schedule.hpp"
#include "perturbfit/solvers/steady_state_problem.hpp"
#include "test_support.hpp"

using namespace perturbfit;

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int G = 30;

std::vector<model::Condition> knockdowns(int n) {
  std::vector<model::Condition> c(static_cast<std::size_t>(n));
  for (int k = 0; k < n; ++k) {
    auto& ck = c[static_cast<std::size_t>(k)];
    ck.medium = {0.1 * k - 0.5, 0.3};
    if (k > 0) ck.knock = {{(7 * k) % G, 0.85}};
  }
  return c;
}

std::vector<const model::Condition*> pointers(const std::vector<model::Condition>& c) {
  std::vector<const model::Condition*> p;
  for (const auto& x : c) p.push_back(&x);
  return p;
}

// Interleaved states 0.3 .. 1.9, different in every entry.
std::vector<double> some_states(std::size_t nb) {
  std::vector<double> X(static_cast<std::size_t>(G) * nb);
  for (std::size_t i = 0; i < X.size(); ++i) X[i] = 0.3 + 0.1 * static_cast<double>((7 * i) % 17);
  return X;
}

std::vector<double> column(const std::vector<double>& A, std::size_t nb, std::size_t k) {
  std::vector<double> c(G);
  for (std::size_t g = 0; g < G; ++g) c[g] = A[g * nb + k];
  return c;
}

double ulps_apart(double a, double b) { return std::fabs(a - b) / std::numeric_limits<double>::epsilon(); }

TEST(Logistic, ManyEqualsOneWithinFourUlpAndKeepsTheEdges) {
  std::vector<double> s;
  for (double v = -40.0; v <= 40.0; v += 0.37) s.push_back(v);
  for (double v : {0.0, -0.0, 1e-300, -1e-300, 700.0, -700.0, 746.0, -746.0, 1e308, -1e308, kInf, -kInf})
    s.push_back(v);
  if (s.size() % 2 == 1) s.push_back(0.5);
  s.push_back(std::nan(""));  // an odd count: the last value goes alone
  ASSERT_EQ(s.size() % 2, 1U);
  std::vector<double> out(s.size());
  model::logistic_many(s.data(), out.data(), s.size());
  for (std::size_t i = 0; i + 1 < s.size(); ++i) {
    const double one = model::logistic(s[i]);
    EXPECT_LE(ulps_apart(out[i], one), 4.0 * std::fmax(one, std::numeric_limits<double>::min())) << s[i];
    EXPECT_NEAR(model::logistic(s[i]) + model::logistic(-s[i]), 1.0, 4.5e-16) << s[i];
  }
  EXPECT_TRUE(std::isnan(out.back()));
  EXPECT_EQ(model::logistic(kInf), 1.0);
  EXPECT_EQ(model::logistic(-kInf), 0.0);
  EXPECT_EQ(model::logistic(0.0), 0.5);
  auto in_place = s;
  model::logistic_many(in_place.data(), in_place.data(), in_place.size());
  for (std::size_t i = 0; i + 1 < s.size(); ++i) EXPECT_EQ(in_place[i], out[i]);
  for (std::size_t i = 0; i + 1 < s.size(); ++i) {  // alone, a value comes out the same
    double one = 0;
    model::logistic_many(&s[i], &one, 1);
    EXPECT_EQ(one, out[i]) << s[i];
  }
}

TEST(GaussSeidelSweep, AColumnThatDoesNotStepIsReadAndItsSumIsItsResidual) {
  const auto p =
      test_support::with_production_response(test_support::small_model(model::ModelKind::kMechanistic, G, 0, 2));
  const model::VectorField f(p);
  ASSERT_TRUE(model::supports_gauss_seidel(f));
  const std::size_t B = 5;
  const auto conds = knockdowns(B);
  const auto cp = pointers(conds);
  auto X = some_states(B);
  const auto X0 = X;
  std::vector<double> F(X.size()), factor, sq(B, 0.0), norms;
  f.evaluate_batch(X.data(), B, cp, kInf, F.data());
  solvers::column_norms(F.data(), G, B, norms);
  f.batch_factors(B, cp, kInf, factor);
  const std::vector<char> step(B, 0);
  model::gauss_seidel_sweep(f, X.data(), B, cp, factor.data(), step.data(), sq.data());
  EXPECT_EQ(X, X0);
  for (std::size_t k = 0; k < B; ++k) EXPECT_NEAR(std::sqrt(sq[k]), norms[k], 1e-12 * norms[k]);
}

TEST(GaussSeidelSweep, ColumnsDoNotDependOnTheirBatch) {
  const auto p = test_support::small_model(model::ModelKind::kMechanistic, G, 0, 2);
  const model::VectorField f(p);
  const std::size_t B = 21;  // blocks of 16, 4 and 1
  const auto conds = knockdowns(B);
  const auto cp = pointers(conds);
  auto X = some_states(B);
  std::vector<double> factor, sq(B, 0.0);
  f.batch_factors(B, cp, kInf, factor);
  std::vector<char> step(B, 1);
  step[3] = 0;
  const auto X0 = X;
  model::gauss_seidel_sweep(f, X.data(), B, cp, factor.data(), step.data(), sq.data());
  for (std::size_t k = 0; k < B; ++k) {
    auto x = column(X0, B, k);
    std::vector<double> one_factor, one_sq(1, 0.0);
    f.batch_factors(1, {cp[k]}, kInf, one_factor);
    model::gauss_seidel_sweep(f, x.data(), 1, {cp[k]}, one_factor.data(), &step[k], one_sq.data());
    EXPECT_EQ(x, column(X, B, k)) << k;
    EXPECT_EQ(one_sq[0], sq[k]) << k;
  }
}

// The AVX2 copy of each sweep must give the baseline's bits: an FMA or a reordered sum
// (-ffp-contract, -ffast-math) in one of them would make results depend on the processor.
TEST(GaussSeidelSweep, AvxAndBaselineCopiesGiveTheSameBits) {
  if (!model::has_avx2_sweeps()) GTEST_SKIP() << "this processor runs the baseline copy only";
  const auto p = test_support::small_model(model::ModelKind::kMechanistic, G, 0, 2);
  const model::VectorField f(p);
  const std::size_t B = 23;  // blocks of 16, 4, 2 and 1
  const auto conds = knockdowns(B);
  const auto cp = pointers(conds);
  std::vector<double> factor;
  f.batch_factors(B, cp, kInf, factor);
  std::vector<char> step(B, 1);
  step[5] = 0;
  auto best = some_states(B), baseline = best;
  std::vector<double> sq_best(B, 0.0), sq_baseline(B, 0.0);
  for (int sweep = 0; sweep < 3; ++sweep) {
    model::gauss_seidel_sweep(f, best.data(), B, cp, factor.data(), step.data(), sq_best.data(), model::Isa::kBest);
    model::gauss_seidel_sweep(f, baseline.data(), B, cp, factor.data(), step.data(), sq_baseline.data(),
                              model::Isa::kBaseline);
  }
  EXPECT_EQ(best, baseline);
  EXPECT_EQ(sq_best, sq_baseline);
  EXPECT_NE(best, some_states(B));  // the sweeps moved the states

  model::VectorField::BatchLinearization lin;
  f.linearize_batch(best.data(), B, cp, kInf, lin);
  std::vector<double> b(G * B), L_best(G * B, 0.0), M_best(G * B, 0.0);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = std::cos(0.7 * static_cast<double>(i));
  auto L_baseline = L_best, M_baseline = M_best;
  for (int sweep = 0; sweep < 3; ++sweep) {
    model::adjoint_gauss_seidel_sweep(f, lin, b.data(), L_best.data(), M_best.data(), step.data(), sq_best.data(),
                                      model::Isa::kBest);
    model::adjoint_gauss_seidel_sweep(f, lin, b.data(), L_baseline.data(), M_baseline.data(), step.data(),
                                      sq_baseline.data(), model::Isa::kBaseline);
  }
  EXPECT_EQ(L_best, L_baseline);
  EXPECT_EQ(M_best, M_baseline);
  EXPECT_EQ(sq_best, sq_baseline);
  EXPECT_NE(L_best, std::vector<double>(G * B, 0.0));
}

TEST(GaussSeidelSweep, SweepsConvergeToTheSteadyStateSnesFindsAndStayThere) {
  const auto p = test_support::small_model(model::ModelKind::kMechanistic, G, 0, 2);
  const model::VectorField f(p);
  const std::size_t B = 3;
  const auto conds = knockdowns(B);
  const auto cp = pointers(conds);
  std::vector<double> X(G * B, 1.0), factor, sq(B);
  f.batch_factors(B, cp, kInf, factor);
  const std::vector<char> step(B, 1);
  double previous = kInf;
  for (int sweep = 0; sweep < 200; ++sweep) {
    std::fill(sq.begin(), sq.end(), 0.0);
    model::gauss_seidel_sweep(f, X.data(), B, cp, factor.data(), step.data(), sq.data());
    const double worst = std::sqrt(*std::max_element(sq.begin(), sq.end()));
    if (sweep > 0) {
      EXPECT_LT(worst, previous) << sweep;  // a contraction on this model
    }
    previous = worst;
    if (worst < 1e-13) break;
  }
  ASSERT_LT(previous, 1e-13);
  solvers::SteadyStateOptions o;
  o.atol = 1e-13;
  solvers::SteadyStateSolver snes(f, o);
  for (std::size_t k = 0; k < B; ++k) {
    std::vector<double> y(G, 1.0);
    ASSERT_TRUE(snes.solve(conds[k], y).converged);
    const auto x = column(X, B, k);
    for (std::size_t g = 0; g < G; ++g) EXPECT_NEAR(x[g], y[g], 1e-11);
  }
  const auto fixed = X;
  model::gauss_seidel_sweep(f, X.data(), B, cp, factor.data(), step.data(), sq.data());
  for (std::size_t i = 0; i < X.size(); ++i) EXPECT_NEAR(X[i], fixed[i], 1e-12);
}

class AdjointSweep : public ::testing::Test {
 protected:
  static constexpr std::size_t B = 4;
  model::ModelParameters p = test_support::small_model(model::ModelKind::kMechanistic, G, 0, 2);
  model::VectorField f{p};
  std::vector<model::Condition> conds = knockdowns(B);
  std::vector<double> X = some_states(B), b = std::vector<double>(G * B);
  model::VectorField::BatchLinearization lin;
  void SetUp() override {
    f.linearize_batch(X.data(), B, pointers(conds), kInf, lin);
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = std::cos(0.7 * static_cast<double>(i));
  }
  std::vector<double> products(const std::vector<double>& L) const {  // a * L
    std::vector<double> M(L.size());
    for (std::size_t i = 0; i < L.size(); ++i) M[i] = lin.a[i] * L[i];
    return M;
  }
};

TEST_F(AdjointSweep, AColumnThatDoesNotStepIsReadAndItsSumIsItsResidual) {
  std::vector<double> L(G * B);
  for (std::size_t i = 0; i < L.size(); ++i) L[i] = std::sin(1.3 * static_cast<double>(i));
  auto M = products(L);
  const auto L0 = L;
  std::vector<double> JtL(L.size()), sq(B, 0.0), norms;
  f.jtvp_batch(lin, L.data(), JtL.data());
  for (std::size_t i = 0; i < JtL.size(); ++i) JtL[i] = b[i] - JtL[i];
  solvers::column_norms(JtL.data(), G, B, norms);
  const std::vector<char> step(B, 0);
  model::adjoint_gauss_seidel_sweep(f, lin, b.data(), L.data(), M.data(), step.data(), sq.data());
  EXPECT_EQ(L, L0);
  for (std::size_t k = 0; k < B; ++k) EXPECT_NEAR(std::sqrt(sq[k]), norms[k], 1e-12 * norms[k]);
}

TEST_F(AdjointSweep, SweepsSolveTheTransposedSystemAsGmresDoes) {
  std::vector<double> L(G * B, 0.0), M(G * B, 0.0), sq(B);
  const std::vector<char> step(B, 1);
  for (int sweep = 0; sweep < 300; ++sweep) {
    std::fill(sq.begin(), sq.end(), 0.0);
    model::adjoint_gauss_seidel_sweep(f, lin, b.data(), L.data(), M.data(), step.data(), sq.data());
    if (std::sqrt(*std::max_element(sq.begin(), sq.end())) < 1e-13) break;
  }
  EXPECT_EQ(M, products(L));  // kept current through the sweeps
  std::vector<double> D(G * B), reference(G * B);
  f.jacobian_diagonal_batch(lin, D.data());
  solvers::BatchedGmres gmres(30);
  const auto r = gmres.solve([&](const double* in, double* out) { f.jtvp_batch(lin, in, out); }, G, B, D.data(),
                             b.data(), reference.data(), std::vector<double>(B, 1e-14), 20);
  for (std::size_t k = 0; k < B; ++k) ASSERT_TRUE(r.converged[k]);
  for (std::size_t i = 0; i < L.size(); ++i) EXPECT_NEAR(L[i], reference[i], 1e-10 * (1 + std::fabs(reference[i])));
}

TEST(RelaxationSchedule, SweepsChecksHandsOverAndRevertsByEachColumnsOwnNumbers) {
  // column 0 converges, 1 is done already, 2 is not finite, 3 contracts slowly, 4 diverges
  solvers::RelaxationSchedule s(std::vector<double>(5, 1e-9), 0.5, {1.0, 1e-12, kInf, 1.0, 1.0});
  EXPECT_EQ(s.step(), (std::vector<char>{1, 0, 0, 1, 1}));
  // A fresh column's first estimate restates its residual: no decision on its rate yet.
  EXPECT_TRUE(s.after_sweep({1.0, 0, 0, 1.0, 1.0}).empty());
  EXPECT_EQ(s.step(), (std::vector<char>{1, 0, 0, 1, 1}));
  EXPECT_EQ(s.after_sweep({0.1, 0, 0, 0.8, 2.0}), (std::vector<std::size_t>{4}));  // 4 grew: back
  EXPECT_EQ(s.step(), (std::vector<char>{1, 0, 0, 0, 0}));                         // 3 contracts by 0.8 > 0.5: Newton's
  EXPECT_TRUE(s.after_sweep({1e-8}).empty());                                      // predicted 1e-8 * 0.1 = 1e-9: check
  EXPECT_FALSE(s.sweeping());
  EXPECT_TRUE(s.checking());
  s.after_check({5e-9, 0, 0, 0, 0});  // not there yet: sweeps on, fresh again
  EXPECT_EQ(s.step(), (std::vector<char>{1, 0, 0, 0, 0}));
  EXPECT_TRUE(s.after_sweep({5e-9}).empty());  // a restated 5e-9, predicted 2.5e-9 at rate 0.5: on
  EXPECT_TRUE(s.sweeping());
  EXPECT_TRUE(s.after_sweep({5e-10}).empty());
  EXPECT_TRUE(s.checking());
  s.after_check({4e-11, 0, 0, 0, 0});
  EXPECT_FALSE(s.sweeping());
  EXPECT_FALSE(s.checking());
  EXPECT_EQ(s.sweeps(0), 5);
  EXPECT_EQ(s.sweeps(1), 0);
}

TEST(BatchedRelaxation, SlowColumnsGoToNewtonAndEveryColumnReachesTheSameState) {
  const auto p = test_support::small_model(model::ModelKind::kMechanistic, G, 0, 2);
  const model::VectorField f(p);
  const auto conds = knockdowns(9);
  const auto cp = pointers(conds);
  auto solve = [&](double rate, std::vector<solvers::BatchedColumnReport>& reports) {
    solvers::SteadyStateOptions o;
    o.relaxation_rate = rate;
    std::vector<std::vector<double>> xs(conds.size(), std::vector<double>(G, 1.0));
    reports = solvers::BatchedSteadyStateSolver(f, o).solve(cp, xs, 4);
    return xs;
  };
  std::vector<solvers::BatchedColumnReport> fast, slow, newton;
  const auto x_fast = solve(0.5, fast), x_slow = solve(1e-3, slow), x_newton = solve(0.0, newton);
  for (std::size_t k = 0; k < conds.size(); ++k) {
    ASSERT_TRUE(fast[k].converged && slow[k].converged && newton[k].converged) << k;
    EXPECT_EQ(fast[k].newton_iterations, 0) << k;  // this model contracts fast: relaxation alone
    EXPECT_GT(fast[k].relaxation_sweeps, 0) << k;
    EXPECT_GT(slow[k].newton_iterations, 0) << k;  // no column contracts by 1e-3 a sweep
    EXPECT_EQ(newton[k].relaxation_sweeps, 0) << k;
    for (std::size_t g = 0; g < G; ++g) {
      EXPECT_NEAR(x_fast[k][g], x_newton[k][g], 1e-8);
      EXPECT_NEAR(x_slow[k][g], x_newton[k][g], 1e-8);
    }
  }
  solvers::SteadyStateOptions o;
  o.stability = solvers::StabilityMode::kSkip;
  std::vector<std::vector<double>> xs(conds.size(), std::vector<double>(G, 1.0));
  const auto reports = solvers::SteadyStateProblem(f, o, 4).solve(cp, xs);
  for (const auto& r : reports) {
    EXPECT_EQ(r.method, solvers::SolveMethod::kBatchedRelaxation);
    EXPECT_TRUE(solvers::is_batched(r.method));
  }
  EXPECT_STREQ(solvers::to_string(solvers::SolveMethod::kBatchedRelaxation), "batched-relaxation");
}

}  // namespace
