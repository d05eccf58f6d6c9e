#include "perturbfit/simulate/settings.hpp"

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
  return s;
}

}  // namespace perturbfit::simulate
