// The command-line contract, exercised through the real executable.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "test_support.hpp"

using perturbfit::test_support::run_command;

namespace {
const std::string kExe = PERTURBFIT_EXE;
const std::string kSmall = std::string(PERTURBFIT_TEST_DATA) + "/small.toml";
}  // namespace

TEST(Cli, HelpListsTheCommands) {
  const auto r = run_command(kExe + " --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* cmd : {"simulate", "version", "reference"}) EXPECT_NE(r.out.find(cmd), std::string::npos) << cmd;
  const auto s = run_command(kExe + " simulate --help");
  EXPECT_EQ(s.exit_code, 0);
  EXPECT_NE(s.out.find("--set"), std::string::npos);
}

TEST(Cli, VersionJsonIsMachineReadable) {
  const auto r = run_command(kExe + " version --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("name"), "perturbfit");
  EXPECT_TRUE(j.at("libraries").contains("petsc"));
  EXPECT_NE(j.at("libraries").at("sundials").get<std::string>().find("6.4"), std::string::npos);
}

TEST(Cli, NoCommandOrUnknownCommandIsAUsageError) {
  EXPECT_EQ(run_command(kExe).exit_code, 2);
  const auto r = run_command(kExe + " simulat");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("perturbfit: error:"), std::string::npos);
}

TEST(Cli, MissingDeckFileExitsTwoWithAClearMessage) {
  const auto r = run_command(kExe + " simulate /nonexistent/deck.toml");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("perturbfit: error: cannot open deck '/nonexistent/deck.toml': no such file"), std::string::npos)
      << r.err;
}

TEST(Cli, BadDeckKeyExitsTwoNamingTheNearestKey) {
  const auto dir = perturbfit::test_support::temp_dir("badkey");
  std::ofstream(dir + "/bad.toml") << "[network]\ngenez = 10\n";
  const auto r = run_command(kExe + " simulate " + dir + "/bad.toml -o " + dir + "/out");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown key 'network.genez'; did you mean 'network.genes'?"), std::string::npos) << r.err;
  // printed once
  EXPECT_EQ(r.err.find("perturbfit: error:"), r.err.rfind("perturbfit: error:"));
  const auto o = run_command(kExe + " simulate " + kSmall + " --set network.genez=3 -o " + dir + "/out");
  EXPECT_EQ(o.exit_code, 2);
  std::filesystem::remove_all(dir);
}

TEST(Cli, BadProtocolExitsTwo) {
  const auto dir = perturbfit::test_support::temp_dir("badprotocol");
  const auto r = run_command(kExe + " simulate " + kSmall + " --set protocol.2.dt=-1 -o " + dir + "/out");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("protocol step 2 (evolve): 'dt' must be > 0, got -1"), std::string::npos) << r.err;
  std::filesystem::remove_all(dir);
}

TEST(Cli, SimulateWritesOutputsProvenanceAndJsonSummary) {
  const auto dir = perturbfit::test_support::temp_dir("simulate");
  const auto r = run_command(kExe + " simulate " + kSmall + " --json --set run.seed=5 -o " + dir +
                             " -snes_type newtonls -ksp_type gmres");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto summary = nlohmann::json::parse(r.out);  // stdout is pure JSON
  EXPECT_EQ(summary.at("status"), "ok");
  EXPECT_EQ(summary.at("cells"), 3000);
  EXPECT_EQ(summary.at("solver").at("failed"), 0);
  EXPECT_TRUE(std::filesystem::exists(dir + "/screen.h5ad"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/truth.h5"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/screen.h5ad.partial"));
  const auto prov = nlohmann::json::parse(perturbfit::test_support::read_text(dir + "/provenance.json"));
  EXPECT_EQ(prov.at("status"), "ok");
  EXPECT_EQ(prov.at("deck").at("run").at("seed"), 5);  // after overrides
  EXPECT_EQ(prov.at("ranks"), 1);
  EXPECT_TRUE(prov.at("libraries").contains("hdf5"));
  EXPECT_GT(prov.at("wall_seconds").get<double>(), 0.0);
  std::filesystem::remove_all(dir);
}

TEST(Cli, NumericalFailureExitsFourAndRecordsIt) {
  const auto dir = perturbfit::test_support::temp_dir("numfail");
  // One Newton step and no fallback cannot reach the tolerance from the default start.
  const auto r =
      run_command(kExe + " simulate " + kSmall +
                  " --set solver.steady_max_it=1 --set solver.fallback=none --set solver.steady_atol=1e-14 -o " + dir);
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("did not converge"), std::string::npos) << r.err;
  // A failure describes no results: it is recorded beside them, never as their provenance.
  EXPECT_FALSE(std::filesystem::exists(dir + "/provenance.json"));
  const auto prov = nlohmann::json::parse(perturbfit::test_support::read_text(dir + "/failure.json"));
  EXPECT_EQ(prov.at("status"), "failed");
  std::filesystem::remove_all(dir);
}

TEST(Cli, UnwritableOutputExitsFive) {
  const auto r = run_command(kExe + " simulate " + kSmall + " -o /proc/perturbfit-cannot-write-here");
  EXPECT_EQ(r.exit_code, 5) << r.err;
}

TEST(Cli, EvolveBeforeMediumAndUnknownGuideGeneExitTwo) {
  const auto dir = perturbfit::test_support::temp_dir("badsteps");
  std::ofstream(dir + "/early.toml")
      << "[[protocol]]\nstep = \"evolve\"\ndt = 1.0\n[[protocol]]\nstep = \"measure\"\ncells = 10\n";
  auto r = run_command(kExe + " simulate " + dir + "/early.toml -o " + dir + "/out");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("protocol step 0 (evolve) comes before any medium step"), std::string::npos) << r.err;
  r = run_command(kExe + " simulate " + kSmall + " --set 'protocol.1.targets=[\"GATA1\"]' -o " + dir + "/out");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("guide target 'GATA1' is not a gene of the model"), std::string::npos) << r.err;
  std::filesystem::remove_all(dir);
}

TEST(Cli, AWrongTruthFileIsRefusedBeforeTheFit) {
  const auto dir = perturbfit::test_support::temp_dir("truth");
  const std::string fit_deck = std::string(PERTURBFIT_TEST_DATA) + "/fit_small.toml";
  // The deck itself stands in for a screen: the truth check must come before it is read.
  const auto r =
      run_command(kExe + " fit " + fit_deck + " --data " + fit_deck + " --set fit.truth=" + fit_deck + " -o " + dir);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("is not a truth file"), std::string::npos) << r.err;
  const auto missing = run_command(kExe + " fit " + fit_deck + " --data " + fit_deck +
                                   " --set fit.truth=/nonexistent/truth.h5 -o " + dir);
  EXPECT_EQ(missing.exit_code, 2) << missing.err;
  EXPECT_NE(missing.err.find("'/nonexistent/truth.h5' is not a file"), std::string::npos) << missing.err;
  EXPECT_FALSE(std::filesystem::exists(dir + "/checkpoint.h5"));
  std::filesystem::remove_all(dir);
}

// In vivo decks that cannot work are refused before any work, naming the key to change.
// A niche feedback whose coupled steady state is not found: exit 4 (numerical), saying so
// and what to change; no screen is published.
TEST(Cli, NicheThatDoesNotConvergeExitsFour) {
  const auto dir = perturbfit::test_support::temp_dir("strongniche");
  const std::string deck = std::string(PERTURBFIT_TEST_DATA) + "/in_vivo_strong_feedback.toml";
  const auto r = run_command(kExe + " simulate " + deck + " -q -o " + dir + "/out");
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("the niche of 8 animal(s) did not converge in 30 Newton iterations"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("lower niche.coupling_scale"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir + "/out/screen.h5ad"));
  std::filesystem::remove_all(dir);
}

TEST(Cli, BadInVivoDecksExitTwo) {
  const auto dir = perturbfit::test_support::temp_dir("badniche");
  const std::string deck = std::string(PERTURBFIT_TEST_DATA) + "/in_vivo_small.toml";
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases{
      {"--set niche.ligands=0", "the animals' niche has no ligand genes: set niche.ligands or niche.ligand_genes"},
      {"--set network.media=0", "the model has no medium channels for its factors: set network.media >= 1"},
      {"--set 'niche.ligand_genes=[\"NOPE\"]'", "niche.ligand_genes: 'NOPE' is not a gene of the network"},
      {"--set niche.ligands=61", "61 ligand genes requested but the network has 60 genes"},
  };
  for (const auto& c : cases) {
    const auto r = run_command(kExe + " simulate " + deck + " " + c.args + " -o " + dir + "/out");
    EXPECT_EQ(r.exit_code, 2) << c.args << ": " << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << ": " << r.err;
  }
  const std::string head =
      "[network]\ngenes = 20\nmedia = 1\n[niche]\nligands = 2\n"
      "[[protocol]]\nstep = \"medium\"\n";
  const std::string perturb = "[[protocol]]\nstep = \"perturb\"\nsingles = 3\n";
  const std::string transplant = "[[protocol]]\nstep = \"transplant\"\nanimals = 2\ncells = 50\n";
  const std::string measure = "[[protocol]]\nstep = \"measure\"\ncells = 40\n";
  const std::vector<Case> protocols{
      {head + transplant + perturb + measure, "protocol step 1 (transplant): transplant comes after the perturb step"},
      {head + perturb + transplant + "[[protocol]]\nstep = \"evolve\"\ndt = 1.0\n" + measure,
       "protocol step 3 (evolve): evolve after transplant is not supported yet"},
      {head + perturb + measure + transplant + measure,
       "protocol step 2 (measure): a measure step between perturb and transplant is not supported yet"},
  };
  for (std::size_t k = 0; k < protocols.size(); ++k) {
    const auto path = dir + "/p" + std::to_string(k) + ".toml";
    std::ofstream(path) << protocols[k].args;
    const auto r = run_command(kExe + " simulate " + path + " -o " + dir + "/out");
    EXPECT_EQ(r.exit_code, 2) << path << ": " << r.err;
    EXPECT_NE(r.err.find(protocols[k].message), std::string::npos) << path << ": " << r.err;
  }
  std::filesystem::remove_all(dir);
}
