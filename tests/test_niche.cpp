// The coupled steady state of an in vivo screen (solvers/niche_steady_state.hpp): the
// returned states solve both the groups' equations and the niche equation; the gradient
// through the coupling (model parameters and Gamma) matches central differences; groups
// split over the ranks of MPI_COMM_WORLD give the niche and gradient of one rank holding
// them all. Run at 1 rank (test_solvers) and 2 ranks (test_mpi_simulate).
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <cstdio>
#include <limits>

#include "perturbfit/solvers/niche_steady_state.hpp"
#include "perturbfit/solvers/small_dense.hpp"
#include "test_support.hpp"

using namespace perturbfit;

namespace {
constexpr int kAnimals = 2;

struct NicheScreen {
  model::ModelParameters params;
  model::NicheCoupling coupling;
  std::vector<model::Condition> conds;        // all groups, animal-major
  std::vector<double> weights, loss_weights;  // per group; loss_weights: G per group
  int groups_per_animal;
  // production: with a production response Q (the niche then moves production too)
  explicit NicheScreen(model::ModelKind kind, int groups = 6, bool production = false)
      : params(test_support::small_model(kind, 12, 3, 2, 5)), groups_per_animal(groups) {
    if (production) params = test_support::with_production_response(params);
    coupling.ligand_genes = {1, 4};
    coupling.gamma = {0.8, -0.5, 0.3, 0.6};  // 2 channels x 2 ligands
    const int G = params.genes;
    for (int a = 0; a < kAnimals; ++a)
      for (int k = 0; k < groups; ++k) {
        model::Condition c;
        c.medium = {0.1, -0.2};
        if (k > 0) c.knock = {{(3 * k + a) % G, 0.7}};
        if (k == 2) c.knock.push_back({1, 0.9});  // a ligand knockdown moves the whole animal
        conds.push_back(c);
        weights.push_back(1.0 + 0.3 * k + 0.1 * a);
        for (int i = 0; i < G; ++i) loss_weights.push_back(std::sin(1.0 + i + 7.0 * k + 3.0 * a));
      }
  }
};

// The groups this rank holds: g % size == rank.
struct Split {
  std::vector<solvers::NicheMember> members;
  std::vector<std::size_t> ids;
};
Split split(const NicheScreen& s, const parallel::Comm& comm) {
  Split out;
  for (std::size_t g = 0; g < s.conds.size(); ++g)
    if (static_cast<int>(g) % comm.size() == comm.rank()) {
      out.members.push_back({&s.conds[g], static_cast<int>(g) / s.groups_per_animal, s.weights[g]});
      out.ids.push_back(g);
    }
  return out;
}

solvers::SteadyStateOptions tight() {
  solvers::SteadyStateOptions o;
  o.atol = 1e-13;
  o.stability = solvers::StabilityMode::kSkip;
  return o;
}

struct Solved {
  std::vector<std::vector<double>> xs;
  std::vector<double> niche;
  solvers::NicheReport report;
  double loss = 0.0;  // summed over ranks
};

Solved solve(const NicheScreen& s, const model::ModelParameters& p, const model::NicheCoupling& coupling,
             const parallel::Comm& comm, const Split& sp, int batch_size = 4) {
  const model::VectorField field(p);
  solvers::NicheSteadyState niche(comm, field, coupling, tight(), batch_size, kAnimals);
  Solved out;
  out.xs.assign(sp.members.size(), std::vector<double>(static_cast<std::size_t>(p.genes), 1.0));
  out.report = niche.solve(sp.members, out.xs, out.niche, 50, 1e-13);
  double local = 0.0;
  const auto G = static_cast<std::size_t>(p.genes);
  for (std::size_t g = 0; g < sp.ids.size(); ++g)
    for (std::size_t i = 0; i < G; ++i) local += s.loss_weights[sp.ids[g] * G + i] * out.xs[g][i];
  out.loss = comm.sum(local);
  return out;
}

// The gradient of the loss through the coupling, flattened (model parameters, then Gamma),
// summed over ranks.
std::vector<double> gradient(const NicheScreen& s, const parallel::Comm& comm, const Split& sp, const Solved& at) {
  const model::VectorField field(s.params);
  solvers::NicheSteadyState niche(comm, field, s.coupling, tight(), 4, kAnimals);
  const auto G = static_cast<std::size_t>(s.params.genes);
  std::vector<std::vector<double>> rhs;
  for (auto id : sp.ids) rhs.emplace_back(s.loss_weights.begin() + id * G, s.loss_weights.begin() + (id + 1) * G);
  solvers::ParameterGradient grad(s.params);
  std::vector<double> dgamma;
  niche.accumulate_gradient(sp.members, at.xs, at.niche, rhs, 1e-14, grad, dgamma);
  auto flat = grad.flatten();
  flat.insert(flat.end(), dgamma.begin(), dgamma.end());
  comm.sum_in_place(flat);
  return flat;
}

class NicheTest : public ::testing::TestWithParam<model::ModelKind> {};

void states_solve_both_equations(const NicheScreen& s, bool coarse) {
  const parallel::Comm world(MPI_COMM_WORLD);
  const auto sp = split(s, world);
  const auto r = solve(s, s.params, s.coupling, world, sp);
  ASSERT_TRUE(r.report.converged) << "residual " << r.report.residual << " failed " << r.report.failed_groups;
  EXPECT_LE(r.report.iterations, 10);
  EXPECT_EQ(r.report.coarse_iterations > 0, coarse) << "coarse iterations " << r.report.coarse_iterations;
  // Every group at f = 0 in the medium its animal's niche gives it.
  const model::VectorField field(s.params);
  solvers::NicheSteadyState niche(world, field, s.coupling, tight(), 4, kAnimals);
  const auto conds = niche.coupled_conditions(sp.members, r.niche);
  std::vector<double> f(static_cast<std::size_t>(s.params.genes));
  for (std::size_t g = 0; g < conds.size(); ++g) {
    field.evaluate(r.xs[g].data(), conds[g], std::numeric_limits<double>::infinity(), f.data());
    double norm = 0.0;
    for (double v : f) norm += v * v;
    EXPECT_LE(std::sqrt(norm), 1e-12) << "group " << sp.ids[g];
  }
  // n_a = Gamma H_a, recomputed here; and the niche is not trivially zero.
  const auto H = niche.ligand_means(sp.members, r.xs);
  double largest = 0.0;
  for (int a = 0; a < kAnimals; ++a)
    for (int k = 0; k < 2; ++k) {
      double n = 0.0;
      for (int l = 0; l < 2; ++l)
        n += s.coupling.gamma[static_cast<std::size_t>(k * 2 + l)] * H[static_cast<std::size_t>(a * 2 + l)];
      EXPECT_NEAR(r.niche[static_cast<std::size_t>(a * 2 + k)], n, 1e-12);
      largest = std::max(largest, std::abs(n));
    }
  EXPECT_GT(largest, 0.05);
  // The two animals differ (their groups differ), so their niches do.
  EXPECT_GT(std::abs(r.niche[0] - r.niche[2]) + std::abs(r.niche[1] - r.niche[3]), 1e-6);
}
}  // namespace

// 6 groups per animal: the Jacobian sample is every group; 60: a sample of 16 per animal,
// whose own coupled state is solved first (the coarse level).
TEST_P(NicheTest, StatesSolveTheGroupsAndTheNicheEquations) {
  for (const int groups : {6, 60}) {
    SCOPED_TRACE("groups per animal " + std::to_string(groups));
    states_solve_both_equations(NicheScreen(GetParam(), groups), groups == 60);
  }
}

TEST_P(NicheTest, GradientThroughTheCouplingMatchesCentralDifferences) {
  const NicheScreen s(GetParam(), 6, /*production=*/true);
  const parallel::Comm world(MPI_COMM_WORLD);
  const auto sp = split(s, world);
  const auto base = solve(s, s.params, s.coupling, world, sp);
  ASSERT_TRUE(base.report.converged);
  const auto grad = gradient(s, world, sp, base);

  const auto theta = model::pack_parameters(s.params);
  std::vector<double> fd(grad.size());
  auto loss_at = [&](std::size_t i, double value) {
    auto p = s.params;
    auto coupling = s.coupling;
    if (i < theta.size()) {
      auto t = theta;
      t[i] = value;
      model::unpack_parameters(t.data(), p);
    } else {
      coupling.gamma[i - theta.size()] = value;
    }
    const auto r = solve(s, p, coupling, world, sp);
    EXPECT_TRUE(r.report.converged) << "parameter " << i;
    return r.loss;
  };
  double scale = 0.0, worst = 0.0;
  for (std::size_t i = 0; i < grad.size(); ++i) {
    const double v = i < theta.size() ? theta[i] : s.coupling.gamma[i - theta.size()];
    const double h = 1e-6 * std::max(1.0, std::abs(v));
    fd[i] = (loss_at(i, v + h) - loss_at(i, v - h)) / (2 * h);
    scale = std::max(scale, std::abs(fd[i]));
  }
  std::size_t worst_i = 0;
  for (std::size_t i = 0; i < grad.size(); ++i)
    if (std::abs(grad[i] - fd[i]) > worst) worst = std::abs(grad[i] - fd[i]), worst_i = i;
  RecordProperty("max_relative_error", std::to_string(worst / scale));
  if (world.is_root())
    std::printf("adjoint vs central differences: max error / max |gradient| = %.2e\n", worst / scale);
  EXPECT_LE(worst / scale, 1e-6) << "worst parameter " << worst_i << " of " << grad.size() << ": adjoint "
                                 << grad[worst_i] << " vs differences " << fd[worst_i];
  // Gamma's own entries carry gradient (the coupling is exercised, not bypassed).
  for (std::size_t i = theta.size(); i < grad.size(); ++i) EXPECT_GT(std::abs(grad[i]), 1e-6) << "Gamma " << i;
}

TEST_P(NicheTest, GroupsSplitOverRanksGiveTheNicheAndGradientOfOneRank) {
  const NicheScreen s(GetParam());
  const parallel::Comm world(MPI_COMM_WORLD), self(MPI_COMM_SELF);
  const auto sp = split(s, world), all = split(s, self);
  const auto dist = solve(s, s.params, s.coupling, world, sp);
  const auto one = solve(s, s.params, s.coupling, self, all, /*batch_size=*/0);  // and SNES instead of batched
  ASSERT_TRUE(dist.report.converged && one.report.converged);
  for (std::size_t k = 0; k < one.niche.size(); ++k) EXPECT_NEAR(dist.niche[k], one.niche[k], 1e-12);
  EXPECT_NEAR(dist.loss, one.loss, 1e-10 * std::abs(one.loss));
  const auto gd = gradient(s, world, sp, dist), g1 = gradient(s, self, all, one);
  double scale = 0.0, diff = 0.0;
  for (std::size_t i = 0; i < g1.size(); ++i)
    scale = std::max(scale, std::abs(g1[i])), diff = std::max(diff, std::abs(gd[i] - g1[i]));
  EXPECT_LE(diff, 1e-10 * scale);
}

// The determinant the solver reports per animal is det(I - Gamma D_a) of the matrix
// determinant lemma: det(-J) = det(-diag(J_g)) det(I - Gamma D_a) for the coupled Jacobian
// J = diag(J_g) + (df/dm) Gamma w~ S of the animal's groups, formed densely here (6 groups x
// 12 genes; the sample is every group, so D_a is exact). The same at 1 and 2 ranks.
TEST_P(NicheTest, StabilityDeterminantIsThatOfTheCoupledJacobian) {
  const NicheScreen s(GetParam(), 6, /*production=*/true);
  const parallel::Comm world(MPI_COMM_WORLD), self(MPI_COMM_SELF);
  const model::VectorField field(s.params);
  auto options = tight();
  options.stability = solvers::StabilityMode::kCheck;
  const auto solve_checked = [&](const parallel::Comm& comm, const Split& sp, std::vector<std::vector<double>>& xs,
                                 std::vector<double>& niche) {
    solvers::NicheSteadyState coupled(comm, field, s.coupling, options, 4, kAnimals);
    xs.assign(sp.members.size(), std::vector<double>(static_cast<std::size_t>(s.params.genes), 1.0));
    return coupled.solve(sp.members, xs, niche, 50, 1e-13);
  };
  const auto all = split(s, self);
  std::vector<std::vector<double>> xs, xs_dist;
  std::vector<double> niche, niche_dist;
  const auto one = solve_checked(self, all, xs, niche);
  const auto dist = solve_checked(world, split(s, world), xs_dist, niche_dist);
  ASSERT_TRUE(one.converged && dist.converged);
  ASSERT_EQ(one.niche_determinants.size(), static_cast<std::size_t>(kAnimals));
  ASSERT_EQ(dist.niche_determinants.size(), static_cast<std::size_t>(kAnimals));

  const int G = s.params.genes, K = s.params.media, L = s.coupling.ligands(), n = s.groups_per_animal, N = n * G;
  const auto at = [](int i) { return static_cast<std::size_t>(i); };
  solvers::NicheSteadyState coupled(self, field, s.coupling, options, 4, kAnimals);
  const auto conds = coupled.coupled_conditions(all.members, niche);
  for (int a = 0; a < kAnimals; ++a) {
    double wsum = 0.0;
    for (int g = 0; g < n; ++g) wsum += s.weights[at(a * n + g)];
    std::vector<double> J(at(N * N), 0.0), Jbd(at(N * N), 0.0), e(at(G)), col(at(G)), dfdm(at(G * K)), row(at(K));
    for (int g = 0; g < n; ++g) {
      const std::size_t id = at(a * n + g);
      model::Linearization lin;
      field.linearize(xs[id].data(), conds[id], std::numeric_limits<double>::infinity(), lin);
      for (int j = 0; j < G; ++j) {  // J_g, column by column
        std::fill(e.begin(), e.end(), 0.0), e[at(j)] = 1.0;
        field.jvp(lin, e.data(), col.data());
        for (int i = 0; i < G; ++i) Jbd[at((g * G + i) * N + g * G + j)] = col[at(i)];
      }
      for (int i = 0; i < G; ++i) {  // df/dm, row by row
        std::fill(e.begin(), e.end(), 0.0), e[at(i)] = 1.0;
        field.medium_vjp(lin, e.data(), row.data());
        for (int k = 0; k < K; ++k) dfdm[at(i * K + k)] = row[at(k)];
      }
      for (int i = 0; i < G; ++i)
        for (int h = 0; h < n; ++h)
          for (int l = 0; l < L; ++l) {
            double coupling = 0.0;  // d f_g,i / d x_h,ligand l through the niche
            for (int k = 0; k < K; ++k) coupling += dfdm[at(i * K + k)] * s.coupling.gamma[at(k * L + l)];
            J[at((g * G + i) * N + h * G + s.coupling.ligand_genes[at(l)])] +=
                coupling * s.weights[at(a * n + h)] / wsum;
          }
    }
    for (std::size_t i = 0; i < J.size(); ++i) J[i] = -(J[i] + Jbd[i]), Jbd[i] = -Jbd[i];
    const double lemma = solvers::determinant(N, J) / solvers::determinant(N, Jbd);
    EXPECT_NEAR(one.niche_determinants[at(a)], lemma, 1e-8 * std::abs(lemma)) << "animal " << a;
    EXPECT_NEAR(dist.niche_determinants[at(a)], lemma, 1e-8 * std::abs(lemma)) << "animal " << a;
    EXPECT_GT(lemma, 0.0);  // this screen's coupled states are stable
    EXPECT_GT(std::abs(lemma - 1.0), 1e-3);  // and the niche feedback is not negligible
  }
  EXPECT_EQ(one.unstable_animals, 0);
}

// One ligand gene that activates itself through the niche, x' = sigma(u Gamma x + c) - x with
// u Gamma = 6, c = -3: three coupled states (x ~ 0.07, 0.5, 0.93); the middle one is a saddle,
// eigenvalue 6 sigma'(s) - 1 = 0.5 > 0, and the reported determinant is 1 - 6 sigma'(s)
// (= -eigenvalue: gamma = 1), negative there only.
TEST(NicheStability, SelfActivatingLigandHasAnUnstableMiddleState) {
  model::ModelParameters p;
  p.genes = 2, p.media = 1;
  p.gene_names = {"ligand", "other"};
  p.W = model::CsrMatrix::from_triplets(2, 2, {}, {}, {});
  p.U = {3.0, 0.0}, p.c = {-3.0, 0.0}, p.v = {1.0, 1.0}, p.beta = {0.0, 0.1}, p.gamma = {1.0, 1.0};
  p.validate();
  model::NicheCoupling coupling;
  coupling.ligand_genes = {0};
  coupling.gamma = {2.0};
  const model::VectorField field(p);
  const parallel::Comm self(MPI_COMM_SELF);
  solvers::SteadyStateOptions options = tight();
  options.stability = solvers::StabilityMode::kCheck;
  model::Condition control;
  control.medium = {0.0};
  const std::vector<solvers::NicheMember> members{{&control, 0, 1.0}};
  int unstable_seen = 0;
  for (const double start : {0.05, 0.5, 0.95}) {
    SCOPED_TRACE("start x = " + std::to_string(start));
    solvers::NicheSteadyState coupled(self, field, coupling, options, 0, 1);
    std::vector<std::vector<double>> xs{{start, 0.1}};
    std::vector<double> niche{2.0 * start};
    const auto r = coupled.solve(members, xs, niche, 50, 1e-13);
    ASSERT_TRUE(r.converged);
    ASSERT_EQ(r.niche_determinants.size(), 1u);
    const double x = xs[0][0], sig = model::logistic(6.0 * x - 3.0);
    EXPECT_NEAR(x, sig, 1e-10);  // a coupled state
    const double eigenvalue = 6.0 * sig * (1.0 - sig) - 1.0;
    EXPECT_NEAR(r.niche_determinants[0], -eigenvalue, 1e-8);
    EXPECT_EQ(r.unstable_animals, eigenvalue > 0 ? 1 : 0);
    EXPECT_EQ(eigenvalue > 0, start == 0.5) << "x = " << x;
    unstable_seen += r.unstable_animals;
  }
  EXPECT_EQ(unstable_seen, 1);
}

INSTANTIATE_TEST_SUITE_P(Kinds, NicheTest, ::testing::Values(model::ModelKind::kMechanistic, model::ModelKind::kHybrid),
                         [](const auto& kind) { return std::string(model::to_string(kind.param)); });
