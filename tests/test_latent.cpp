// Latent nodes (targets absent from the measured panel): the support pattern that gives
// them out-edges, the Jacobian and the steady-state adjoint of a model whose loss sees
// only the measured genes (finite differences), and the simulator's measured panel.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "perturbfit/core/error.hpp"
#include "perturbfit/core/random.hpp"
#include "perturbfit/fit/support.hpp"
#include "perturbfit/simulate/measurement.hpp"
#include "perturbfit/solvers/adjoint.hpp"
#include "test_support.hpp"

using namespace perturbfit;

namespace {

constexpr int kMeasured = 8, kLatent = 3, kNodes = kMeasured + kLatent;

const std::vector<std::string> kGenes{"a", "b", "c", "d", "e", "f", "g", "h"};
const std::vector<std::string> kLatentNames{"X", "Y", "Z"};

bool has_edge(const model::CsrMatrix& m, int target, int regulator) {
  const auto* begin = m.col.data() + m.row_ptr[static_cast<std::size_t>(target)];
  const auto* end = m.col.data() + m.row_ptr[static_cast<std::size_t>(target) + 1];
  return std::find(begin, end, regulator) != end;
}

// Responses of the measured genes to each latent node's knockdown in training: X moves
// every gene (most of all gene 7), Y only genes 1 and 4, Z is never perturbed in training.
std::vector<double> latent_response() {
  std::vector<double> r(kLatent * kMeasured, 0.0);
  for (int g = 0; g < kMeasured; ++g) r[static_cast<std::size_t>(g)] = 0.1 * (g + 1);
  r[kMeasured + 1] = 0.5, r[kMeasured + 4] = 0.2;
  return r;
}

// The response edges FitProblem::response_edges would give: each latent node's top responders.
std::vector<std::pair<int, int>> response_edges(const std::vector<double>& response, int degree) {
  std::vector<std::pair<int, int>> edges;
  for (int l = 0; l < kLatent; ++l)
    for (int g : fit::top_responders(response.data() + l * kMeasured, kMeasured, -1, degree))
      edges.emplace_back(g, kMeasured + l);
  return edges;
}

model::CsrMatrix latent_support(const fit::FitOptions& o, const std::vector<double>& response = latent_response()) {
  const Reporter quiet(true, true);
  auto nodes = kGenes;
  nodes.insert(nodes.end(), kLatentNames.begin(), kLatentNames.end());
  return fit::support_pattern(o, nodes, kMeasured, kLatent, response_edges(response, o.target_out_degree), {}, {},
                              parallel::Comm(MPI_COMM_SELF), quiet);
}

// A mechanistic model over the measured genes and the latent nodes, on the fit's default
// (all-to-all) support, with weights small enough for a unique stable steady state.
model::ModelParameters latent_model() {
  fit::FitOptions o;
  o.support = "all";
  model::ModelParameters p;
  p.kind = model::ModelKind::kMechanistic;
  p.genes = kNodes, p.media = 1, p.neural_rank = 0;
  p.gene_names = kGenes;
  p.gene_names.insert(p.gene_names.end(), kLatentNames.begin(), kLatentNames.end());
  p.W = latent_support(o, std::vector<double>(kLatent * kMeasured, 1.0));  // every latent node regulates every gene
  RandomStream rs(8, StreamDomain::kStart, 1);
  for (auto& w : p.W.val) w = 0.3 * rs.normal();
  const auto N = static_cast<std::size_t>(kNodes);
  p.U.assign(N, 0.0), p.c.resize(N), p.v.resize(N), p.beta.resize(N), p.gamma.resize(N);
  for (std::size_t g = 0; g < N; ++g)
    p.c[g] = 0.5 * rs.normal(), p.v[g] = 1.0 + rs.uniform(), p.beta[g] = 0.1, p.gamma[g] = 0.8 + 0.4 * rs.uniform();
  p.fitness.assign(N, 0.0);
  p.validate();
  return p;
}

model::Condition knock_latent() {
  model::Condition cond;
  cond.medium = {0.0};
  cond.knock = {{kMeasured + 1, 0.8}, {2, 0.5}};  // latent node Y and measured gene c
  return cond;
}

// l = 1/2 sum over measured genes of (x*_g - y_g)^2: what the fit's data term sees.
double measured_loss(const model::ModelParameters& p, const std::vector<double>& y,
                     std::vector<double>* x_out = nullptr) {
  bool converged = false;
  const auto x = test_support::tight_steady_state(p, knock_latent(), converged);
  EXPECT_TRUE(converged);
  double l = 0;
  for (std::size_t g = 0; g < static_cast<std::size_t>(kMeasured); ++g) l += 0.5 * (x[g] - y[g]) * (x[g] - y[g]);
  if (x_out) *x_out = x;
  return l;
}

}  // namespace

TEST(LatentSupport, OutEdgesGoToTheMostResponsiveGenesAndNothingRegulatesALatentNode) {
  fit::FitOptions o;
  o.support = "all";
  o.target_out_degree = 3;
  const auto m = latent_support(o);
  ASSERT_EQ(m.rows, kNodes);
  ASSERT_EQ(m.cols, kNodes);
  const int X = kMeasured, Y = kMeasured + 1, Z = kMeasured + 2;
  for (int g = 0; g < kMeasured; ++g) {
    EXPECT_EQ(has_edge(m, g, X), g >= 5) << "X -> gene " << g;            // its 3 largest responses: genes 5, 6, 7
    EXPECT_EQ(has_edge(m, g, Y), g == 1 || g == 4) << "Y -> gene " << g;  // only 2 genes respond at all
    EXPECT_FALSE(has_edge(m, g, Z));  // never perturbed in training: nothing to learn
  }
  EXPECT_EQ(m.nnz(), static_cast<std::size_t>(kMeasured * (kMeasured - 1) + 3 + 2));
  for (int l = kMeasured; l < kNodes; ++l)  // no data sees a latent level: no in-edges without a prior
    EXPECT_EQ(m.row_ptr[static_cast<std::size_t>(l) + 1], m.row_ptr[static_cast<std::size_t>(l)]);
  EXPECT_EQ(fit::top_responders(latent_response().data(), kMeasured, 7, 3), (std::vector<int>{6, 5, 4}));  // not itself
}

TEST(LatentSupport, APriorEdgeListNamesLatentNodesAndReplacesTheirDefaultOutEdges) {
  const auto dir = test_support::temp_dir("latent-edges");
  fit::FitOptions o;
  o.support = "edgelist";
  o.edge_list = dir + "/prior.tsv";
  o.target_out_degree = 100;
  std::ofstream(o.edge_list) << "X\ta\nX\tb\na\tY\n";  // regulator <TAB> target
  const auto m = latent_support(o);
  const int X = kMeasured, Y = kMeasured + 1;
  EXPECT_TRUE(has_edge(m, 0, X) && has_edge(m, 1, X));  // X -> a, X -> b only, although all genes respond
  EXPECT_FALSE(has_edge(m, 2, X));
  EXPECT_TRUE(has_edge(m, Y, 0));                       // a -> Y: a latent in-edge from the prior
  EXPECT_TRUE(has_edge(m, 1, Y) && has_edge(m, 4, Y));  // Y: no out-edge in the prior, so its responders
  EXPECT_EQ(m.nnz(), static_cast<std::size_t>(3 + 2));
}

TEST(LatentModel, JacobianProductsMatchFiniteDifferencesAlongLatentNodes) {
  const auto p = latent_model();
  const model::VectorField f(p);
  const auto cond = knock_latent();
  const auto N = static_cast<std::size_t>(kNodes);
  RandomStream rs(9, StreamDomain::kStart, 2);
  std::vector<double> x(N), v(N, 0.0), w(N);
  for (auto& xi : x) xi = 0.2 + 2.0 * rs.uniform();
  for (std::size_t l = kMeasured; l < N; ++l) v[l] = rs.uniform() - 0.5;  // a direction in the latent levels only
  for (auto& wi : w) wi = rs.uniform() - 0.5;
  model::Linearization lin;
  f.linearize(x.data(), cond, std::numeric_limits<double>::infinity(), lin);
  std::vector<double> jv(N), jtw(N), fp(N), fm(N), xp(x), xm(x);
  f.jvp(lin, v.data(), jv.data());
  f.jtvp(lin, w.data(), jtw.data());
  const double h = 1e-6, inf = std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < N; ++i) xp[i] += h * v[i], xm[i] -= h * v[i];
  f.evaluate(xp.data(), cond, inf, fp.data());
  f.evaluate(xm.data(), cond, inf, fm.data());
  double moved = 0;
  for (std::size_t g = 0; g < static_cast<std::size_t>(kMeasured); ++g) {
    const double fd = (fp[g] - fm[g]) / (2 * h);
    EXPECT_NEAR(jv[g], fd, 1e-7 * (1 + std::fabs(fd))) << "gene " << g;
    moved += std::fabs(fd);
  }
  EXPECT_GT(moved, 1e-3);  // the latent levels do drive the measured genes
  // Transposed product: w^T J v both ways.
  double wjv = 0, jtwv = 0;
  for (std::size_t i = 0; i < N; ++i) wjv += w[i] * jv[i], jtwv += jtw[i] * v[i];
  EXPECT_NEAR(wjv, jtwv, 1e-12 * (1 + std::fabs(wjv)));
}

TEST(LatentModel, AdjointGradientOfAMeasuredOnlyLossMatchesFiniteDifferences) {
  const auto p = latent_model();
  std::vector<double> y(kMeasured);
  RandomStream rs(10, StreamDomain::kStart, 3);
  for (auto& yi : y) yi = 2.0 * rs.uniform();
  std::vector<double> x;
  measured_loss(p, y, &x);
  std::vector<double> dl(x.size(), 0.0);  // latent nodes are not observed
  for (std::size_t g = 0; g < static_cast<std::size_t>(kMeasured); ++g) dl[g] = x[g] - y[g];
  const model::VectorField f(p);
  solvers::SteadyStateAdjoint adjoint(f);
  solvers::ParameterGradient grad(p);
  adjoint.accumulate(knock_latent(), x, dl, grad);

  // Directional derivatives on the latent nodes' out-edges, and on their own production.
  std::vector<std::size_t> latent_out;
  for (int g = 0; g < kMeasured; ++g)
    for (auto k = p.W.row_ptr[static_cast<std::size_t>(g)]; k < p.W.row_ptr[static_cast<std::size_t>(g) + 1]; ++k)
      if (p.W.col[static_cast<std::size_t>(k)] >= kMeasured) latent_out.push_back(static_cast<std::size_t>(k));
  ASSERT_EQ(latent_out.size(), static_cast<std::size_t>(kMeasured * kLatent));
  const double h = 1e-5;
  double dot = 0;
  auto plus = p, minus = p;
  for (auto k : latent_out) {
    const double d = rs.uniform() - 0.5;
    dot += grad.W[k] * d;
    plus.W.val[k] += h * d, minus.W.val[k] -= h * d;
  }
  double fd = (measured_loss(plus, y) - measured_loss(minus, y)) / (2 * h);
  EXPECT_NEAR(dot, fd, 1e-6 * (1 + std::fabs(fd)));
  EXPECT_GT(std::fabs(fd), 1e-4);

  dot = 0, plus = p, minus = p;
  for (std::size_t l = kMeasured; l < static_cast<std::size_t>(kNodes); ++l) {
    const double d = rs.uniform() - 0.5;
    dot += grad.v[l] * d + grad.c[l] * d;
    plus.v[l] += h * d, minus.v[l] -= h * d, plus.c[l] += h * d, minus.c[l] -= h * d;
  }
  fd = (measured_loss(plus, y) - measured_loss(minus, y)) / (2 * h);
  EXPECT_NEAR(dot, fd, 1e-6 * (1 + std::fabs(fd)));
  EXPECT_GT(std::fabs(fd), 1e-5);
}

TEST(MeasuredPanel, FractionIsSeededSortedAndCanLeaveTargetsOut) {
  std::vector<std::string> names;
  for (int g = 0; g < 100; ++g) names.push_back("G" + std::to_string(g));
  simulate::MeasurementOptions o;
  o.seed = 4;
  EXPECT_EQ(simulate::measured_panel(o, names, {}).size(), 100u);  // default: every gene

  o.panel_fraction = 0.3;
  const auto a = simulate::measured_panel(o, names, {}), b = simulate::measured_panel(o, names, {});
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.size(), 30u);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  o.seed = 5;
  EXPECT_NE(simulate::measured_panel(o, names, {}), a);

  o.panel_fraction = 1.0;
  o.panel_excludes_targets = true;
  const std::vector<int> targeted{3, 7, 7, 50};
  const auto c = simulate::measured_panel(o, names, targeted);
  EXPECT_EQ(c.size(), 97u);
  for (int t : targeted) EXPECT_FALSE(std::binary_search(c.begin(), c.end(), t));

  o.panel_excludes_targets = false;
  o.panel_genes = {"G9", "G2", "G40"};
  EXPECT_EQ(simulate::measured_panel(o, names, {}), (std::vector<int>{2, 9, 40}));
  o.panel_genes = {"G2", "NOPE"};
  EXPECT_THROW(simulate::measured_panel(o, names, {}), UsageError);
  o.panel_genes = {"G3"};
  o.panel_excludes_targets = true;
  EXPECT_THROW(simulate::measured_panel(o, names, targeted), UsageError);  // empty panel
  o.panel_genes.clear();
  o.panel_fraction = 0.0;
  EXPECT_THROW(simulate::measured_panel(o, names, {}), UsageError);
}
