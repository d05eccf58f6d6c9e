// The sweep file's grid: enumeration order (a point index is a SLURM array task id, so it
// must name the same settings everywhere), the split of settings between simulate and fit,
// the round trip through sweep.json, and the messages for malformed files.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "perturbfit/config/sweep.hpp"
#include "perturbfit/core/error.hpp"
#include "test_support.hpp"

using perturbfit::UsageError;
using perturbfit::config::Sweep;

namespace {
std::string write_sweep(const std::string& text) {
  const auto dir = perturbfit::test_support::temp_dir("sweep");
  std::ofstream(dir + "/sweep.toml") << text;
  return dir + "/sweep.toml";
}

std::string error_of(const std::string& text) {
  try {
    Sweep::load(write_sweep(text));
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

const char* kSweep = R"(deck = "deck.toml"
seed_key = "fit.split_seed"
seeds = [1, 2]
[grid]
"run.seed" = [7, 8, 9]
"fit.lambda_ss" = [0.0, 1.0]
[set]
"fit.max_iterations" = 5
"model.kind" = "hybrid"
)";
}  // namespace

TEST(Sweep, GridIsEnumeratedWithKeysInOrderAndSeedsInnermost) {
  const auto s = Sweep::load(write_sweep(kSweep));
  ASSERT_EQ(s.size(), 12u);  // 3 x 2 x 2
  EXPECT_EQ(s.grid_keys(), (std::vector<std::string>{"fit.lambda_ss", "run.seed"}));
  // index = ((lambda * 3) + run.seed) * 2 + split_seed
  const auto p = s.point(7);  // lambda 1.0, run.seed 7 + 0 ... : 7 = ((1 * 3) + 0) * 2 + 1
  ASSERT_EQ(p.settings.size(), 3u);
  EXPECT_EQ(p.settings[0].first, "fit.lambda_ss");
  EXPECT_DOUBLE_EQ(p.settings[0].second.get<double>(), 1.0);
  EXPECT_EQ(p.settings[1].second.get<int>(), 7);
  EXPECT_EQ(p.settings[2].first, "fit.split_seed");
  EXPECT_EQ(p.settings[2].second.get<int>(), 2);
  EXPECT_EQ(s.point(11).settings[1].second.get<int>(), 9);
  // Every point once.
  std::set<std::string> seen;
  for (std::size_t i = 0; i < s.size(); ++i) seen.insert(perturbfit::config::assignment(s.point(i).settings[0]) +
                                                            perturbfit::config::assignment(s.point(i).settings[1]) +
                                                            perturbfit::config::assignment(s.point(i).settings[2]));
  EXPECT_EQ(seen.size(), 12u);
  EXPECT_THROW(s.point(12), UsageError);
}

TEST(Sweep, SimulationGetsEverythingButFitAndDataKeys) {
  const auto s = Sweep::load(write_sweep(kSweep));
  const auto p = s.point(3);
  EXPECT_EQ(s.overrides(p), (std::vector<std::string>{"fit.max_iterations=5", "model.kind=\"hybrid\"",
                                                      "fit.lambda_ss=0.0", "run.seed=8", "fit.split_seed=2"}));
  EXPECT_EQ(s.simulation_overrides(p), (std::vector<std::string>{"model.kind=\"hybrid\"", "run.seed=8"}));
  EXPECT_TRUE(s.sets("fit.split_seed"));
  EXPECT_TRUE(s.sets("model.kind"));
  EXPECT_FALSE(s.sets("fit.truth"));
}

TEST(Sweep, DescriptionRoundTrips) {
  const auto s = Sweep::load(write_sweep(kSweep));
  const auto back = Sweep::from_json(s.describe(), "/elsewhere", "sweep.json");
  EXPECT_EQ(back.describe(), s.describe());
  EXPECT_EQ(back.deck(), s.deck());  // absolute, not re-resolved against the new base
  ASSERT_EQ(back.size(), s.size());
  for (std::size_t i = 0; i < s.size(); ++i) EXPECT_EQ(back.overrides(back.point(i)), s.overrides(s.point(i)));
}

TEST(Sweep, MalformedFilesNameTheProblem) {
  EXPECT_NE(error_of("[grid]\n\"fit.lambda_ss\" = [0.0]\n").find("name the deck"), std::string::npos);
  EXPECT_NE(error_of("deck = \"d.toml\"\n").find("nothing varies"), std::string::npos);
  EXPECT_NE(error_of("deck = \"d.toml\"\ngird = 3\n").find("did you mean 'grid'"), std::string::npos);
  EXPECT_NE(error_of("deck = \"d.toml\"\n[grid]\nlambda_ss = [0.0]\n").find("is not a deck key"), std::string::npos);
  EXPECT_NE(error_of("deck = \"d.toml\"\n[grid]\n\"fit.lambda_ss\" = []\n").find("non-empty list"), std::string::npos);
  EXPECT_NE(error_of("deck = \"d.toml\"\n[grid]\n\"fit.lambda_ss\" = 0.1\n").find("non-empty list"), std::string::npos);
  EXPECT_NE(error_of("deck = \"d.toml\"\nseeds = [1]\n[grid]\n\"run.seed\" = [1, 2]\n").find("in one place"),
            std::string::npos);
  EXPECT_NE(error_of("deck = \"d.toml\"\n[grid]\n\"fit.l1\" = [1]\n[set]\n\"fit.l1\" = 2\n").find("in one place"),
            std::string::npos);
  EXPECT_NE(error_of("deck = \"d.toml\"\n[grid\n").find("line"), std::string::npos);
}
