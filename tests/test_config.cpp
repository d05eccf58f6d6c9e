#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "perturbfit/cli/deck_schema.hpp"
#include "perturbfit/config/deck.hpp"
#include "perturbfit/config/schema.hpp"
#include "perturbfit/core/error.hpp"
#include "perturbfit/data/screen_data.hpp"
#include "perturbfit/fit/options.hpp"
#include "perturbfit/simulate/settings.hpp"
#include "perturbfit/solvers/settings.hpp"

using perturbfit::UsageError;
using perturbfit::config::Deck;

namespace {
const perturbfit::config::Schema& schema() { return perturbfit::cli::deck_schema(); }

std::string error_of(const std::string& toml, const std::vector<std::string>& overrides = {}) {
  try {
    Deck::parse(toml, "deck.toml", schema(), overrides);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Deck, FillsDocumentedDefaults) {
  const Deck d = Deck::parse("[network]\ngenes = 50\n", "deck.toml", schema());
  EXPECT_EQ(d.get<int>("network.genes"), 50);
  EXPECT_EQ(d.get<std::string>("model.kind"), "mechanistic");
  EXPECT_DOUBLE_EQ(d.get<double>("network.contraction"), 0.8);
  EXPECT_TRUE(d.protocol().empty());
}

TEST(Deck, UnknownKeyNamesTheNearestValidOne) {
  const auto msg = error_of("[network]\ngene = 50\n");
  EXPECT_NE(msg.find("unknown key 'network.gene'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'network.genes'"), std::string::npos) << msg;
}

TEST(Deck, UnknownSectionAndStepAreErrors) {
  EXPECT_NE(error_of("[netwrok]\ngenes = 5\n").find("did you mean 'network'"), std::string::npos);
  EXPECT_NE(error_of("[[protocol]]\nstep = \"evolv\"\ndt = 1.0\n").find("did you mean 'evolve'"), std::string::npos);
  EXPECT_NE(error_of("[[protocol]]\nstep = \"evolve\"\ndtt = 1.0\n").find("did you mean 'protocol.0.dt'"),
            std::string::npos);
}

TEST(Deck, RequiredStepKeyAndTypes) {
  EXPECT_NE(error_of("[[protocol]]\nstep = \"evolve\"\n").find("protocol step 0 (evolve): 'dt' is required"),
            std::string::npos);
  EXPECT_NE(error_of("[network]\ngenes = \"many\"\n").find("must be integer"), std::string::npos);
  // integers are accepted where numbers are expected
  EXPECT_DOUBLE_EQ(Deck::parse("[network]\ncontraction = 1\n", "d", schema()).get<double>("network.contraction"), 1.0);
}

TEST(Deck, OverridesApplyAndAreValidated) {
  const std::string toml = "[[protocol]]\nstep = \"evolve\"\ndt = 1.0\n";
  const Deck d = Deck::parse(toml, "d", schema(), {"network.genes=77", "model.kind=hybrid", "protocol.0.dt=2.5"});
  EXPECT_EQ(d.get<int>("network.genes"), 77);
  EXPECT_EQ(d.get<std::string>("model.kind"), "hybrid");
  EXPECT_DOUBLE_EQ(perturbfit::config::step_get<double>(d.protocol()[0], "dt"), 2.5);
  EXPECT_NE(error_of(toml, {"network.genez=3"}).find("did you mean 'network.genes'"), std::string::npos);
  EXPECT_NE(error_of(toml, {"protocol.4.dt=3"}).find("no protocol step 4"), std::string::npos);
  EXPECT_NE(error_of(toml, {"nodot"}).find("--set expects"), std::string::npos);
}

TEST(Deck, SyntaxErrorIsAUsageError) { EXPECT_NE(error_of("[network\n").find("cannot parse"), std::string::npos); }

TEST(Deck, MissingFileIsAUsageError) {
  try {
    Deck::load("/nonexistent/deck.toml", schema());
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("no such file"), std::string::npos);
  }
}

TEST(Deck, QuickstartDeckIsValid) {
  const Deck d = Deck::load(std::string(PERTURBFIT_SOURCE_DIR) + "/inputs/quickstart.toml", schema());
  EXPECT_EQ(d.get<int>("network.genes"), 200);
  EXPECT_EQ(d.protocol().size(), 5u);
}

TEST(Schema, ReferenceMentionsEveryKey) {
  const std::string md = perturbfit::config::deck_reference_markdown(schema());
  for (const auto& s : schema().sections)
    for (const auto& k : s.keys) EXPECT_NE(md.find("`" + k.key + "`"), std::string::npos) << k.key;
}

TEST(EditDistance, Basics) {
  EXPECT_EQ(perturbfit::config::edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(perturbfit::config::nearest("genez", {"genes", "media", "seed"}), "genes");
}

TEST(Schema, DocsDeckReferenceIsUpToDate) {
  std::ifstream in(std::string(PERTURBFIT_SOURCE_DIR) + "/docs/deck.md");
  std::stringstream s;
  s << in.rdbuf();
  EXPECT_EQ(s.str(), perturbfit::config::deck_reference_markdown(schema()))
      << "regenerate it: build/src/perturbfit reference > docs/deck.md";
}

TEST(Deck, EveryNumberIsFiniteAndInItsRange) {
  // an int64 that would wrap to 20 as int32, non-finite numbers, values outside the range
  EXPECT_NE(error_of("", {"network.genes=4294967316"}).find("'network.genes' must be in [1, 100000], got 4294967316"),
            std::string::npos);
  EXPECT_NE(error_of("", {"network.contraction=nan"}).find("must be a finite number, got nan"), std::string::npos);
  EXPECT_NE(error_of("", {"fit.lambda_l1=inf"}).find("must be a finite number, got inf"), std::string::npos);
  EXPECT_NE(error_of("", {"network.contraction=-1"}).find("must be >= 0, got -1"), std::string::npos);
  EXPECT_NE(error_of("", {"fit.pseudocount=0"}).find("must be > 0"), std::string::npos);
  EXPECT_NE(error_of("", {"measure.panel_fraction=0"}).find("must be in (0, 1]"), std::string::npos);
  EXPECT_NE(error_of("[[protocol]]\nstep = \"medium\"\nvalues = [1.0, nan]\n").find("(each element)"),
            std::string::npos);
  EXPECT_NE(error_of("", {"protocol.cells=1"}).find("protocol.N.cells"), std::string::npos);
  // the edges of a range are accepted
  EXPECT_EQ(Deck::parse("", "d", schema(), {"network.genes=100000"}).get<int>("network.genes"), 100000);
  EXPECT_DOUBLE_EQ(Deck::parse("", "d", schema(), {"network.contraction=0"}).get<double>("network.contraction"), 0.0);
}

TEST(Schema, EveryNumericKeyHasARangeThatHoldsItsDefault) {
  using perturbfit::config::effective_range;
  using perturbfit::config::ValueType;
  auto check = [](const std::vector<perturbfit::config::KeySpec>& keys, const std::string& where) {
    for (const auto& k : keys) {
      if (k.type != ValueType::kInt && k.type != ValueType::kFloat) continue;
      const auto r = effective_range(k);
      if (k.type == ValueType::kInt) {
        EXPECT_LE(r.hi, 9007199254740992.0) << where << k.key;
      }
      if (!k.default_value.is_null()) {
        EXPECT_TRUE(r.contains(k.default_value.get<double>())) << where << k.key;
      }
    }
  };
  for (const auto& s : schema().sections) check(s.keys, s.name + ".");
  for (const auto& s : schema().steps) check(s.keys, s.name + ".");
}

TEST(Deck, AParseErrorNamesTheLineNotItsText) {
  const auto msg = error_of("[run]\nseed = 1\nSECRET-TEXT = = =\n");
  EXPECT_NE(msg.find("at line 3"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("SECRET-TEXT"), std::string::npos) << msg;
}

// The option structs' own defaults (used when code builds them directly) are the deck's:
// one source of truth, checked (fit.learning_rate once drifted to 0.01 in the struct).
TEST(Schema, StructDefaultsAreTheDecksDefaults) {
  const Deck d = Deck::parse("", "d", schema());
  EXPECT_TRUE(perturbfit::fit::fit_options(d) == perturbfit::fit::FitOptions{});
  EXPECT_TRUE(perturbfit::solvers::steady_state_options(d) == perturbfit::solvers::SteadyStateOptions{});
  EXPECT_TRUE(perturbfit::simulate::generator_options(d) == perturbfit::model::GeneratorOptions{});
  EXPECT_TRUE(perturbfit::simulate::simulation_settings(d) == perturbfit::simulate::SimulationSettings{});
  perturbfit::data::DataOptions data;
  data.path = "/screen.h5ad";
  EXPECT_TRUE(perturbfit::data::data_options(d, "/screen.h5ad", "") == data);
  // ... and the comparison sees a difference.
  EXPECT_FALSE(perturbfit::fit::fit_options(Deck::parse("[fit]\nlearning_rate = 0.01\n", "d", schema())) ==
               perturbfit::fit::FitOptions{});
}
