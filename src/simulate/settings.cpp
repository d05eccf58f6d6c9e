#include "perturbfit/simulate/settings.hpp"

#include "perturbfit/config/schema.hpp"

#include "perturbfit/core/error.hpp"
#include "perturbfit/solvers/settings.hpp"

namespace perturbfit::simulate {

model::GeneratorOptions generator_options(const config::Deck& d) {
  model::GeneratorOptions o;
  o.generator = d.get<std::string>("network.generator");
  o.kind = model::parse_model_kind(d.get<std::string>("model.kind"));
  o.neural_rank = d.get<int>("model.neural_rank");
  o.neural_scale = d.get<double>("model.neural_scale");
  o.genes = d.get<int>("network.genes");
  o.media = d.get<int>("network.media");
  o.mean_in_degree = d.get<double>("network.mean_in_degree");
  o.activating_fraction = d.get<double>("network.activating_fraction");
  o.weight_scale = d.get<double>("network.weight_scale");
  o.modules = d.get<int>("network.modules");
  o.between_module_fraction = d.get<double>("network.between_module_fraction");
  const auto edge_list = d.get<std::string>("network.edge_list");
  if (!edge_list.empty()) {
    std::filesystem::path p(edge_list);
    o.edge_list = p.is_absolute() ? p : d.directory() / p;
  }
  o.contraction = d.get<double>("network.contraction");
  o.medium_gene_fraction = d.get<double>("network.medium_gene_fraction");
  o.medium_weight = d.get<double>("network.medium_weight");
  o.decay_mean = d.get<double>("network.decay_mean");
  o.decay_sd = d.get<double>("network.decay_sd");
  o.production_mean = d.get<double>("network.production_mean");
  o.basal_mean = d.get<double>("network.basal_mean");
  o.bias_sd = d.get<double>("network.bias_sd");
  o.growth_rate = d.get<double>("network.growth_rate");
  o.fitness_genes = d.get<int>("network.fitness_genes");
  o.fitness_scale = d.get<double>("network.fitness_scale");
  o.seed = static_cast<std::uint64_t>(d.get<long>("run.seed"));
  if (o.kind != model::ModelKind::kMechanistic && o.neural_rank < 1)
    throw UsageError("model.kind = '" + d.get<std::string>("model.kind") + "' needs model.neural_rank >= 1");
  return o;
}

SimulationSettings simulation_settings(const config::Deck& d) {
  SimulationSettings s;
  s.seed = static_cast<std::uint64_t>(d.get<long>("run.seed"));
  s.steady = solvers::steady_state_options(d);
  s.multistart = d.get<int>("solver.multistart");
  s.batch_size = d.get<int>("solver.batch_size");
  if (s.batch_size < 0) throw UsageError("solver.batch_size must be >= 0");
  s.measurement.dispersion = d.get<double>("measure.dispersion");
  s.measurement.dispersion_sd = d.get<double>("measure.dispersion_sd");
  s.measurement.dropout = d.get<double>("measure.dropout");
  s.measurement.batch_sd = d.get<double>("measure.batch_sd");
  s.measurement.depth_sd = d.get<double>("measure.depth_sd");
  s.measurement.seed = s.seed;
  s.measurement.panel_genes = d.values().at("measure").at("panel_genes").get<std::vector<std::string>>();
  s.measurement.panel_fraction = d.get<double>("measure.panel_fraction");
  s.measurement.panel_excludes_targets = d.get<bool>("measure.panel_excludes_targets");
  s.niche.ligands = d.get<int>("niche.ligands");
  s.niche.ligand_genes = d.values().at("niche").at("ligand_genes").get<std::vector<std::string>>();
  s.niche.coupling_scale = d.get<double>("niche.coupling_scale");
  const auto& types = d.values().at("cell_types");
  s.cell_types.names = types.at("names").get<std::vector<std::string>>();
  s.cell_types.fractions = types.at("fractions").get<std::vector<double>>();
  s.cell_types.bias_sd = d.get<double>("cell_types.bias_sd");
  s.cell_types.production_sd = d.get<double>("cell_types.production_sd");
  const auto& names = s.cell_types.names;
  for (std::size_t t = 0; t < names.size(); ++t) {
    if (names[t].empty()) throw UsageError("cell_types.names has an empty name");
    for (std::size_t u = 0; u < t; ++u)
      if (names[u] == names[t]) throw UsageError("cell_types.names lists '" + names[t] + "' twice");
  }
  if (!s.cell_types.fractions.empty()) {
    if (s.cell_types.fractions.size() != names.size())
      throw UsageError("cell_types.fractions has " + std::to_string(s.cell_types.fractions.size()) + " entries for " +
                       std::to_string(names.size()) + " cell_types.names");
    double total = 0;
    for (double f : s.cell_types.fractions) {
      if (!(f > 0)) throw UsageError("cell_types.fractions must all be > 0");
      total += f;
    }
    for (double& f : s.cell_types.fractions) f /= total;  // shares of the population
  }
  return s;
}

// A table, one line per key:
// clang-format off
config::SectionSpec network_section() {
  using namespace config::key_table;
  return {"network", "The ground-truth gene-regulatory network and its parameters (simulate).",
       {
           {"generator", VT::kString, "random", "random | modular | toggle (two-gene bistable switch) | edgelist (TSV: source, target, weight)"},
           {"genes", VT::kInt, 200, "number of genes G (random and modular)", range::count(1, 100000)},
           {"mean_in_degree", VT::kFloat, 3.0, "mean number of regulators per gene (random and modular)", range::non_negative()},
           {"activating_fraction", VT::kFloat, 0.5, "fraction of edges with positive weight", range::fraction()},
           {"weight_scale", VT::kFloat, 1.0, "standard deviation of edge weights before the contraction scaling", range::non_negative()},
           {"modules", VT::kInt, 4, "number of modules (modular)", range::count(1, 1000000)},
           {"between_module_fraction", VT::kFloat, 0.05, "fraction of edges that cross modules (modular)", range::fraction()},
           {"edge_list", VT::kString, "", "edge list TSV (edgelist): source<TAB>target<TAB>weight; relative to the deck"},
           {"contraction", VT::kFloat, 0.8, "rows of W are scaled so that v/4 * sum|W| <= contraction * gamma; < 1 guarantees a unique stable steady state; 0 keeps the weights as drawn (no guarantee)", range::non_negative()},
           {"media", VT::kInt, 1, "number K of medium (environment) inputs", range::count(0, 10000)},
           {"medium_gene_fraction", VT::kFloat, 0.1, "fraction of genes that respond to each medium input", range::fraction()},
           {"medium_weight", VT::kFloat, 1.0, "standard deviation of the medium response weights U", range::non_negative()},
           {"decay_mean", VT::kFloat, 1.0, "median decay rate gamma (log-normal across genes)", range::positive()},
           {"decay_sd", VT::kFloat, 0.2, "log-scale standard deviation of gamma", range::non_negative()},
           {"production_mean", VT::kFloat, 2.0, "median maximal regulated production v (log-normal)", range::positive()},
           {"basal_mean", VT::kFloat, 0.1, "median basal production beta (log-normal)", range::positive()},
           {"bias_sd", VT::kFloat, 0.5, "standard deviation of the activation bias c", range::non_negative()},
           {"growth_rate", VT::kFloat, 0.03, "baseline net growth rate r0 of every cell (expand steps)", range::any()},
           {"fitness_genes", VT::kInt, 0, "number of genes whose expression changes the growth rate (phi != 0)", range::count(0, 1000000)},
           {"fitness_scale", VT::kFloat, 0.01, "standard deviation of the nonzero fitness weights phi", range::non_negative()},
       }};
}
// clang-format on

// A table, one line per key:
// clang-format off
config::SectionSpec measure_section() {
  using namespace config::key_table;
  return {"measure", "Ground-truth measurement operator (MODEL.md section 5): library size, batch offsets, ZINB counts.",
       {
           {"dispersion", VT::kFloat, 10.0, "median negative-binomial size phi (larger = closer to Poisson)", range::positive()},
           {"dispersion_sd", VT::kFloat, 0.5, "log-scale standard deviation of phi across genes", range::non_negative()},
           {"dropout", VT::kFloat, 0.02, "mean zero-inflation probability pi across genes", range::between(0.0, 0.999)},
           {"batch_sd", VT::kFloat, 0.1, "standard deviation of the per-batch, per-gene log offsets delta", range::non_negative()},
           {"depth_sd", VT::kFloat, 0.3, "log-scale standard deviation of the library size factor across cells", range::non_negative()},
           {"panel_genes", VT::kStringList, json::array(), "genes the screen measures (its var); empty: every gene of the model"},
           {"panel_fraction", VT::kFloat, 1.0, "measure a random fraction of those genes (seeded by run.seed), as a targeted panel or a highly-variable-gene subset", {0.0, 1.0, true}},
           {"panel_excludes_targets", VT::kBool, false, "leave every targeted gene out of the panel: a screen whose targets are all unmeasured"},
       }};
}
// clang-format on

// A table, one line per key:
// clang-format off
config::SectionSpec cell_types_section() {
  using namespace config::key_table;
  return {"cell_types", "Cell types (MODEL.md section 7): populations with their own activation bias c_t = c + b_t (b_t drawn per gene) and, with production_sd > 0, their own maximal production v exp(q_t), sharing W. Assigned with the guides at the perturb step, in proportion to fractions; obs/cell_type names each cell's. Fewer than two names: no types.",
       {
           {"names", VT::kStringList, json::array(), "the types' names (obs/cell_type)"},
           {"fractions", VT::kFloatList, json::array(), "their shares of the population (normalised; empty: equal)", range::any()},
           {"bias_sd", VT::kFloat, 0.5, "standard deviation of each type's bias b_t per gene", range::non_negative()},
           {"production_sd", VT::kFloat, 0.0, "standard deviation of each type's log production ratio q_t per gene: its maximal production is v exp(q_t) (0: v shared)", range::non_negative()},
       }};
}

config::SectionSpec niche_section() {
  using namespace config::key_table;
  return {"niche", "In vivo niches (MODEL.md section 7), used after a transplant step: each animal's cells share niche factors n = Gamma <x[ligands]>_w, added to the medium's K channels.",
       {
           {"ligands", VT::kInt, 0, "number of ligand (secreting) genes drawn at random, besides ligand_genes", range::count(0, 100000)},
           {"ligand_genes", VT::kStringList, json::array(), "ligand genes by name"},
           {"coupling_scale", VT::kFloat, 1.0, "standard deviation of Gamma's entries times sqrt(number of ligands)", range::non_negative()},
       }};
}
// clang-format on

// A table, one line per key:
// clang-format off
config::SectionSpec output_section() {
  using namespace config::key_table;
  return {"output", "What is written.",
       {
           {"write_truth", VT::kBool, true, "write truth.h5 (network, parameters, latent states) beside screen.h5ad"},
       }};
}
// clang-format on

}  // namespace perturbfit::simulate
