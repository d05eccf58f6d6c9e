// The experiment operator: order matters (non-commutativity), and bad protocols are
// rejected before anything runs.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <set>

#include "perturbfit/cli/deck_schema.hpp"
#include "perturbfit/config/deck.hpp"
#include "perturbfit/core/error.hpp"
#include "perturbfit/model/generators.hpp"
#include "perturbfit/simulate/screen.hpp"
#include "perturbfit/simulate/simulation.hpp"
#include "test_support.hpp"

using namespace perturbfit;

namespace {

model::ModelParameters medium_sensitive_model() {
  model::GeneratorOptions o;
  o.genes = 20;
  o.media = 1;
  o.medium_gene_fraction = 0.6;
  o.medium_weight = 2.0;
  o.seed = 11;
  return model::generate_model(o);
}

std::vector<double> final_states(const std::string& steps) {
  const Reporter quiet(true, true);
  const auto deck = config::Deck::parse(steps, "test", cli::deck_schema());
  simulate::SimulationSettings s;
  s.multistart = 0;
  simulate::Simulation sim(parallel::Comm(MPI_COMM_SELF), medium_sensitive_model(), s, quiet);
  sim.run(simulate::parse_protocol(deck));
  return sim.gather_states();
}

const std::string kBase = "[[protocol]]\nstep = \"medium\"\nname = \"base\"\nvalues = [0.0]\n";
const std::string kStim = "[[protocol]]\nstep = \"medium\"\nname = \"stim\"\nvalues = [2.0]\n";
const std::string kPerturb =
    "[[protocol]]\nstep = \"perturb\"\ntargets = [\"G01\", \"G02\", \"G03\"]\ncontrol_guides = 1\nguides_per_target = 1\n";
const std::string kMeasure = "[[protocol]]\nstep = \"measure\"\ncells = 50\n";
std::string evolve(double dt) { return "[[protocol]]\nstep = \"evolve\"\ndt = " + std::to_string(dt) + "\n"; }

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

TEST(Protocol, SwappingMediumAndPerturbationChangesTheStates) {
  const auto a = final_states(kBase + kPerturb + evolve(24) + kStim + evolve(0.5) + kMeasure);
  const auto b = final_states(kBase + kStim + evolve(24) + kPerturb + evolve(0.5) + kMeasure);
  ASSERT_EQ(a.size(), b.size());
  ASSERT_EQ(a.size(), 4u * 20u);  // 1 control guide + 3 targets
  EXPECT_GT(max_abs_diff(a, b), 1e-2);
}

TEST(Protocol, SwappedStepsCommuteWhenNoTimePassesBetweenThem) {
  const auto a = final_states(kBase + kPerturb + kStim + evolve(3) + kMeasure);
  const auto b = final_states(kBase + kStim + kPerturb + evolve(3) + kMeasure);
  EXPECT_LT(max_abs_diff(a, b), 1e-12);
}

TEST(Protocol, EquilibrateReachesTheSteadyStateThatLongEvolutionApproaches) {
  const auto a = final_states(kBase + kPerturb + "[[protocol]]\nstep = \"equilibrate\"\n" + kMeasure);
  const auto b = final_states(kBase + kPerturb + evolve(60) + kMeasure);
  EXPECT_LT(max_abs_diff(a, b), 1e-5);
}

std::string protocol_error(const std::string& steps) {
  try {
    final_states(steps);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Protocol, BadProtocolsAreUsageErrorsNamingTheStep) {
  EXPECT_NE(protocol_error(evolve(1) + kBase + kMeasure).find("protocol step 0 (evolve) comes before any medium step"),
            std::string::npos);
  EXPECT_NE(protocol_error(kBase + evolve(-2) + kMeasure).find("protocol step 1 (evolve): 'dt' must be > 0"),
            std::string::npos);
  const auto unknown = protocol_error(kBase + "[[protocol]]\nstep = \"perturb\"\ntargets = [\"GATA1\"]\n" + kMeasure);
  EXPECT_NE(unknown.find("guide target 'GATA1' is not a gene of the model"), std::string::npos) << unknown;
  EXPECT_NE(protocol_error(kBase + kPerturb + kPerturb + kMeasure).find("only one perturb step"), std::string::npos);
  EXPECT_NE(protocol_error(kBase + evolve(1)).find("never measures"), std::string::npos);
  EXPECT_NE(
      protocol_error("[[protocol]]\nstep = \"medium\"\nvalues = [1.0, 2.0]\n" + kMeasure).find("values has 2 entries"),
      std::string::npos);
}

TEST(Protocol, PassageKeepsTheRequestedNumberOfCellsInExpectation) {
  const Reporter quiet(true, true);
  const auto deck = config::Deck::parse(kBase + kPerturb + "[[protocol]]\nstep = \"passage\"\ncells = 3\n" + kMeasure,
                                        "test", cli::deck_schema());
  simulate::SimulationSettings s;
  s.multistart = 0;
  simulate::Simulation sim(parallel::Comm(MPI_COMM_SELF), medium_sensitive_model(), s, quiet);
  sim.run(simulate::parse_protocol(deck));
  // after a 3-cell bottleneck at most 3 of the 4 classes survive, so at most 3 are sequenced
  std::set<int> seen(sim.snapshots()[0].cell_class.begin(), sim.snapshots()[0].cell_class.end());
  EXPECT_LE(seen.size(), 3u);
  EXPECT_GE(seen.size(), 1u);
}

// A measure step's snapshot shares the states it saw: what the simulation does afterwards
// must not reach it (copy on write), and drawing the counts in chunks changes no row.
TEST(Protocol, SnapshotsKeepTheStatesTheyMeasured) {
  const Reporter quiet(true, true);
  auto run = [&](const std::string& steps) {
    simulate::SimulationSettings s;
    s.multistart = 0;
    auto sim = std::make_unique<simulate::Simulation>(parallel::Comm(MPI_COMM_SELF), medium_sensitive_model(), s,
                                                      quiet);
    sim->run(simulate::parse_protocol(config::Deck::parse(steps, "test", cli::deck_schema())));
    return sim;
  };
  const auto first = kBase + kPerturb + evolve(24) + kMeasure;
  const auto stopped = run(first), went_on = run(first + kStim + evolve(0.5) + kMeasure);
  ASSERT_EQ(went_on->snapshots().size(), 2u);
  const auto& kept = *went_on->snapshots()[0].owned_states;
  const auto& seen = *stopped->snapshots()[0].owned_states;
  ASSERT_EQ(kept.size(), 4u);
  EXPECT_EQ(kept, seen);
  EXPECT_GT(max_abs_diff(kept[1], (*went_on->snapshots()[1].owned_states)[1]), 1e-3) << "the new medium changed nothing";

  const auto whole = simulate::assemble_screen(*went_on, quiet), chunked = simulate::assemble_screen(*went_on, quiet, 7);
  ASSERT_EQ(whole.h5ad.n_obs, 100);
  EXPECT_EQ(whole.h5ad.indptr, chunked.h5ad.indptr);
  EXPECT_EQ(whole.h5ad.indices, chunked.h5ad.indices);
  EXPECT_EQ(whole.h5ad.data, chunked.h5ad.data);
  EXPECT_EQ(whole.size_factor, chunked.size_factor);
  EXPECT_EQ(whole.cell_class, chunked.cell_class);
  EXPECT_GT(whole.h5ad.indptr.back(), 0);
}

}  // namespace
