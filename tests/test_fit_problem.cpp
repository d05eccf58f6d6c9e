// FitProblem on a tiny screen built here (8 genes, 4 single knockdowns and a pair, 2
// batches, about 280 cells): its gradient against central differences, and a loss that does
// not depend on the order of the cells in the file.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>

#include "perturbfit/core/reporter.hpp"
#include "perturbfit/data/screen_data.hpp"
#include "perturbfit/fit/baselines.hpp"
#include "perturbfit/fit/evaluation.hpp"
#include "perturbfit/fit/fit_output.hpp"
#include "perturbfit/fit/gradient_check.hpp"
#include "perturbfit/fit/media_inputs.hpp"
#include "perturbfit/fit/options.hpp"
#include "perturbfit/fit/problem.hpp"
#include "perturbfit/io/h5ad_writer.hpp"
#include "perturbfit/io/hdf5.hpp"
#include "test_support.hpp"

using namespace perturbfit;

namespace {
constexpr int kGenes = 8;

struct Cell {
  std::string perturbation, batch;
  std::vector<std::int32_t> counts;
};

// Knocking down gene t lowers it to 30% and raises gene t+1 by half (an effect to learn).
std::vector<Cell> tiny_cells() {
  const std::vector<std::pair<std::string, std::vector<int>>> perturbations = {
      {"control", {}}, {"g0", {0}}, {"g2", {2}}, {"g4", {4}}, {"g6", {6}}, {"g0+g2", {0, 2}}};
  std::mt19937 rng(7);
  std::vector<Cell> cells;
  for (const std::string batch : {"lane0", "lane1"})
    for (const auto& [label, targets] : perturbations)
      for (int i = 0; i < (label == "control" ? 40 : 20); ++i) {
        Cell c{label, batch, {}};
        for (int g = 0; g < kGenes; ++g) {
          double mean = 20.0 * (1 + g % 3) * (batch == "lane1" ? 1.1 : 1.0);
          for (int t : targets) mean *= g == t ? 0.3 : g == (t + 1) % kGenes ? 1.5 : 1.0;
          c.counts.push_back(std::poisson_distribution<std::int32_t>(mean)(rng));
        }
        cells.push_back(std::move(c));
      }
  return cells;
}

std::string write_screen(const std::vector<Cell>& cells, const std::string& path) {
  io::H5adBlock b;
  b.n_obs = static_cast<std::int64_t>(cells.size());
  for (int g = 0; g < kGenes; ++g) b.var_names.push_back("g" + std::to_string(g));
  io::CategoricalColumn perturbation{"perturbation", {}, {}}, batch{"batch", {"lane0", "lane1"}, {}};
  for (const auto& c : cells) {
    b.obs_names.push_back("c" + std::to_string(b.obs_names.size()));
    auto it = std::find(perturbation.categories.begin(), perturbation.categories.end(), c.perturbation);
    if (it == perturbation.categories.end()) it = perturbation.categories.insert(it, c.perturbation);
    perturbation.codes.push_back(static_cast<std::int32_t>(it - perturbation.categories.begin()));
    batch.codes.push_back(c.batch == "lane0" ? 0 : 1);
    for (int g = 0; g < kGenes; ++g)
      if (c.counts[static_cast<std::size_t>(g)] > 0)
        b.indices.push_back(g), b.data.push_back(c.counts[static_cast<std::size_t>(g)]);
    b.indptr.push_back(static_cast<std::int64_t>(b.indices.size()));
  }
  b.categorical = {perturbation, batch};
  b.column_order = {"perturbation", "batch"};
  io::write_h5ad(parallel::Comm(MPI_COMM_SELF), path, b);
  return path;
}

fit::FitOptions every_group_trains() {
  fit::FitOptions o;
  o.validation_fraction = 0.0;
  o.test_fraction = 0.0;
  o.steady.atol = 1e-13;  // central differences see the solver's stopping point through atol / h
  return o;
}

struct TinyFit {
  TinyFit(const std::string& path, const fit::FitOptions& options)
      : screen(comm, data_options(path), quiet),
        problem(comm, screen, options, fit::media_inputs({}, screen.media()), quiet) {}
  static data::DataOptions data_options(const std::string& path) {
    data::DataOptions d;
    d.path = path;
    return d;
  }
  parallel::Comm comm{MPI_COMM_SELF};
  Reporter quiet{true, true};
  data::ScreenData screen;
  fit::FitProblem problem;
};

// A point away from the initial one, the same for every problem of this size.
std::vector<double> moved_point(fit::FitProblem& problem) {
  auto theta = problem.initial_point();
  std::vector<double> lower, upper;
  problem.bounds(lower, upper);
  for (std::size_t i = 0; i < theta.size(); ++i)
    theta[i] = std::clamp(theta[i] + 0.05 * std::sin(1.0 + static_cast<double>(i)), lower[i], upper[i]);
  return theta;
}
}  // namespace

TEST(FitProblem, GradientMatchesCentralDifferencesOnATinyScreen) {
  const auto dir = test_support::temp_dir("fit_problem_gradient");
  TinyFit fit(write_screen(tiny_cells(), dir + "/screen.h5ad"), every_group_trains());
  EXPECT_EQ(fit.screen.genes().size(), static_cast<std::size_t>(kGenes));
  const auto result = fit::check_gradient(fit.problem, 4, 1e-5, fit.quiet);
  EXPECT_LT(result["max_relative_error"].get<double>(), 1e-5) << result.dump();
  EXPECT_GT(result["max_relative_error"].get<double>(), 0.0) << "no difference at all: nothing was compared";
}

TEST(FitProblem, LossAndGradientDoNotDependOnTheOrderOfCells) {
  const auto dir = test_support::temp_dir("fit_problem_order");
  auto cells = tiny_cells();
  TinyFit forward(write_screen(cells, dir + "/forward.h5ad"), every_group_trains());
  std::reverse(cells.begin(), cells.end());
  TinyFit backward(write_screen(cells, dir + "/backward.h5ad"), every_group_trains());
  ASSERT_EQ(forward.problem.size(), backward.problem.size());
  std::vector<double> g1, g2;
  const auto theta = moved_point(forward.problem);
  const auto a = forward.problem.evaluate(theta, &g1), b = backward.problem.evaluate(theta, &g2);
  EXPECT_GT(a.data, 0.0);
  EXPECT_NEAR(a.total, b.total, 1e-12 * a.total);
  for (std::size_t i = 0; i < g1.size(); ++i)
    EXPECT_NEAR(g1[i], g2[i], 1e-9 * (1e-12 + std::abs(g1[i]))) << "parameter " << i;
}

// fit.batch_offsets = false: no batch offset anywhere (the two lanes differ by 10%, so with
// offsets the controls' offsets are not zero).
TEST(FitProblem, WithoutBatchOffsetsEveryOffsetIsZero) {
  const auto dir = test_support::temp_dir("fit_problem_offsets");
  const auto path = write_screen(tiny_cells(), dir + "/screen.h5ad");
  auto options = every_group_trains();
  TinyFit with(path, options);
  options.batch_offsets = false;
  TinyFit without(path, options);
  double largest_with = 0.0, largest_without = 0.0;
  for (const auto& o : with.problem.groups())
    for (double d : o.delta) largest_with = std::max(largest_with, std::abs(d));
  for (const auto& o : without.problem.groups())
    for (double d : o.delta) largest_without = std::max(largest_without, std::abs(d));
  EXPECT_GT(largest_with, 0.01);
  EXPECT_EQ(largest_without, 0.0);
}

// A Gaussian fit frees the perturbed cells' counts after set-up (run_fit): the loss, the
// gradient and the control groups' statistics must not change, and anything that would
// need the freed counts must refuse rather than read a smaller screen.
TEST(FitProblem, ReleasingThePerturbedCountsKeepsTheLossAndTheControls) {
  const auto dir = test_support::temp_dir("fit_problem_release");
  TinyFit fit(write_screen(tiny_cells(), dir + "/screen.h5ad"), every_group_trains());
  const auto theta = moved_point(fit.problem);
  std::vector<double> g1, g2;
  const auto before = fit.problem.evaluate(theta, &g1);
  const auto controls = fit.screen.statistics({.log_moments = true, .perturbed_groups = false});
  const auto cells_before = fit.screen.local_rows().size();

  fit.screen.release_perturbed_counts();
  EXPECT_TRUE(fit.screen.perturbed_counts_released());
  EXPECT_EQ(fit.screen.local_rows().size(), 2u * 40u) << "two lanes of 40 control cells stay";
  EXPECT_GT(cells_before, fit.screen.local_rows().size());
  EXPECT_EQ(fit.screen.local_indptr().size(), fit.screen.local_rows().size() + 1);
  const auto after = fit.screen.statistics({.log_moments = true, .perturbed_groups = false});
  EXPECT_EQ(after.groups, controls.groups);
  EXPECT_EQ(after.sum, controls.sum);
  EXPECT_EQ(after.sum_sq, controls.sum_sq);
  EXPECT_EQ(after.sum_linear, controls.sum_linear);
  EXPECT_EQ(after.size_factor_sum, controls.size_factor_sum);
  EXPECT_THROW((void)fit.screen.statistics(), std::logic_error);
  EXPECT_THROW((void)fit.screen.content_digest(), std::logic_error);

  const auto again = fit.problem.evaluate(theta, &g2);
  EXPECT_NEAR(again.total, before.total, 1e-10 * before.total);
  ASSERT_EQ(g1.size(), g2.size());
  for (std::size_t i = 0; i < g1.size(); ++i)
    EXPECT_NEAR(g1[i], g2[i], 1e-7 * (1e-9 + std::abs(g1[i]))) << "parameter " << i;
}

// After release_warm_starts() (the last iteration is over) a solve starts from each
// condition's last solution and reaches the same states: the same loss and predictions.
TEST(FitProblem, ReleasingTheWarmStartsKeepsTheSolutions) {
  const auto dir = test_support::temp_dir("fit_problem_warm_starts");
  TinyFit fit(write_screen(tiny_cells(), dir + "/screen.h5ad"), every_group_trains());
  fit.problem.set_warm_start(fit::FitProblem::WarmStart::kAnchored);
  const auto theta = moved_point(fit.problem);
  const auto first = fit.problem.evaluate(theta, nullptr);
  fit.problem.keep_candidate();
  fit.problem.accept_candidate();
  std::vector<std::vector<double>> states;
  for (const auto& c : fit.problem.conditions()) states.push_back(c.x);
  fit.problem.release_warm_starts();
  const auto second = fit.problem.evaluate(theta, nullptr);
  EXPECT_NEAR(second.total, first.total, 1e-10 * first.total);
  ASSERT_EQ(states.size(), fit.problem.conditions().size());
  for (std::size_t i = 0; i < states.size(); ++i) {
    const auto& x = fit.problem.conditions()[i].x;
    ASSERT_EQ(x.size(), states[i].size()) << "condition " << i;
    for (std::size_t g = 0; g < x.size(); ++g) EXPECT_NEAR(x[g], states[i][g], 1e-9) << "condition " << i;
  }
}

// fit.h5's groups x genes datasets are written a block of rows at a time: blocks of one row
// must give the same file contents as one block, and each row must be its own group's.
TEST(FitProblem, FitOutputRowsDoNotDependOnTheWriteBlock) {
  const auto dir = test_support::temp_dir("fit_problem_write_blocks");
  TinyFit fit(write_screen(tiny_cells(), dir + "/screen.h5ad"), every_group_trains());
  const auto theta = moved_point(fit.problem);
  (void)fit.problem.evaluate(theta, nullptr);
  ASSERT_EQ(fit.problem.solve_all(true), 0);
  std::vector<fit::GroupPrediction> rows;
  (void)fit::evaluate_predictions(fit.problem, fit.comm, rows);
  ASSERT_GT(rows.size(), 2u) << "one block would hold every row: nothing compared";
  const fit::CheckpointIdentity identity{fit.screen.genes(), "lbfgs", "deck", "screen"};
  fit::write_fit(fit.comm, dir + "/one_row.h5", fit.problem, theta, identity, {}, rows, "{}", nullptr, 1);
  fit::write_fit(fit.comm, dir + "/default.h5", fit.problem, theta, identity, {}, rows, "{}");
  const auto a = io::H5File::open_read(dir + "/one_row.h5"), b = io::H5File::open_read(dir + "/default.h5");
  for (const std::string name :
       {"/groups/observed", "/groups/predicted", "/groups/observed_effect", "/groups/predicted_effect"}) {
    const auto x = a.read<double>(name), y = b.read<double>(name);
    EXPECT_EQ(x.size(), rows.size() * kGenes) << name;
    EXPECT_EQ(x, y) << name;
  }
  const auto predicted = a.read<double>("/groups/predicted"), observed = a.read<double>("/groups/observed");
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const auto& o = *std::find_if(fit.problem.groups().begin(), fit.problem.groups().end(),
                                  [&](const fit::ObservedGroup& g) { return g.group == rows[r].group; });
    for (std::size_t g = 0; g < kGenes; ++g) {
      EXPECT_EQ(predicted[r * kGenes + g], rows[r].predicted[g]) << "row " << r;
      EXPECT_EQ(observed[r * kGenes + g], o.y[g]) << "row " << r;
    }
  }
}

// The plain fit's adjoints run chunk by chunk, each chunk's dl/dx built just before it: one
// batch per chunk (many chunks) and one chunk for everything give the same gradient.
TEST(FitProblem, AdjointChunksDoNotChangeTheGradient) {
  const auto dir = test_support::temp_dir("fit_problem_chunks");
  const auto path = write_screen(tiny_cells(), dir + "/screen.h5ad");
  auto options = every_group_trains();
  options.batch_size = 1;
  options.adjoint_chunk_batches = 1;
  TinyFit chunked(path, options);
  options.adjoint_chunk_batches = 1000;
  TinyFit whole(path, options);
  const auto theta = moved_point(chunked.problem);
  std::vector<double> g1, g2;
  const auto a = chunked.problem.evaluate(theta, &g1), b = whole.problem.evaluate(theta, &g2);
  ASSERT_GT(chunked.problem.conditions().size(), 4u) << "one chunk only: nothing is compared";
  EXPECT_EQ(a.total, b.total);
  ASSERT_EQ(g1.size(), g2.size());
  double largest = 0;
  for (std::size_t i = 0; i < g1.size(); ++i) {
    EXPECT_EQ(g1[i], g2[i]) << "parameter " << i;
    largest = std::max(largest, std::abs(g1[i]));
  }
  EXPECT_GT(largest, 0.0) << "a zero gradient compares nothing";
}

// The linear baseline, formed a block of targets at a time: every block size gives the same
// predictions (the pair's two targets fall in different blocks of one target), and a single
// knockdown's is the regression slope on its target's effect over the training groups,
// computed here directly, times the mean on-target effect.
TEST(Baselines, LinearBaselineByBlocksIsTheRegressionOnTheTargetsEffect) {
  const auto path = write_screen(tiny_cells(), test_support::temp_dir("linear_baseline") + "/screen.h5ad");
  auto options = every_group_trains();
  options.test_fraction = 0.6;  // held-out targets for the baseline to predict
  TinyFit fit(path, options);
  const auto& problem = fit.problem;
  const fit::Baselines baselines(problem, fit.comm);
  const auto& perts = fit.screen.perturbations();
  std::vector<const fit::ObservedGroup*> groups;
  for (const auto& o : problem.groups())
    if (o.control >= 0 && o.condition >= 0 && !perts[static_cast<std::size_t>(o.perturbation)].control)
      groups.push_back(&o);
  auto predictions = [&](std::size_t block) {
    std::map<int, std::vector<double>> out;
    baselines.for_each_linear(
        fit.comm, groups,
        [&](const fit::ObservedGroup& o, const std::vector<double>& e) { ASSERT_TRUE(out.emplace(o.group, e).second); },
        block);
    return out;
  };
  const auto whole = predictions(64), one = predictions(1);
  EXPECT_EQ(whole, one);
  // The training groups' effects, and the mean on-target effect of the single knockdowns.
  std::vector<std::vector<double>> train;
  std::vector<int> train_target;
  double on_target = 0;
  int singles = 0;
  for (const auto* o : groups) {
    const auto& ts = perts[static_cast<std::size_t>(o->perturbation)].target_nodes;
    if (o->split != fit::Split::kTrain) continue;
    train.push_back(fit::observed_effect(problem, *o));
    if (ts.size() == 1) on_target += train.back()[static_cast<std::size_t>(ts[0])], ++singles;
  }
  ASSERT_GE(train.size(), 2U);
  on_target /= singles;
  // Each group's prediction: the sum over its targets of the regression term.
  const double n = static_cast<double>(train.size());
  const double ridge = 0.1 * on_target * on_target + 1e-9;
  auto term = [&](std::size_t t, std::size_t g) {
    double mt = 0, mtt = 0, mg = 0, mtg = 0;
    for (const auto& e : train) mt += e[t] / n, mtt += e[t] * e[t] / n, mg += e[g] / n, mtg += e[t] * e[g] / n;
    return (mtg - mt * mg) / (mtt - mt * mt + ridge) * on_target;
  };
  int combinations = 0;
  for (const auto* o : groups) {
    const auto& ts = perts[static_cast<std::size_t>(o->perturbation)].target_nodes;
    if (o->split != fit::Split::kTrain && ts.size() == 1) {
      ASSERT_TRUE(whole.count(o->group)) << "a held-out single with a measured target has a linear prediction";
    }
    if (!whole.count(o->group)) continue;
    for (std::size_t g = 0; g < kGenes; ++g) {
      double expected = 0;
      for (int t : ts) expected += term(static_cast<std::size_t>(t), g);
      EXPECT_NEAR(whole.at(o->group)[g], expected, 1e-12 * (1 + std::fabs(expected))) << o->group << " gene " << g;
    }
    combinations += ts.size() > 1;
  }
  EXPECT_GT(combinations, 0) << "the pair's prediction needs both of its targets' blocks";
}
