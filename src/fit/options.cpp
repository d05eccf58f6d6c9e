#include "perturbfit/fit/options.hpp"

#include "perturbfit/core/error.hpp"
#include "perturbfit/solvers/settings.hpp"

namespace perturbfit::fit {

namespace {
std::filesystem::path relative_to_deck(const config::Deck& d, const std::string& p) {
  if (p.empty()) return {};
  const std::filesystem::path path(p);
  return path.is_absolute() ? path : d.directory() / path;
}
}  // namespace

const char* to_string(Optimizer o) {
  switch (o) {
    case Optimizer::kLbfgs: return "lbfgs";
    case Optimizer::kTao: return "tao";
    case Optimizer::kAdam: return "adam";
  }
  return "?";
}

FitOptions fit_options(const config::Deck& d) {
  FitOptions o;
  o.kind = model::parse_model_kind(d.get<std::string>("model.kind"));
  o.neural_rank = d.get<int>("model.neural_rank");
  if (o.kind != model::ModelKind::kMechanistic && o.neural_rank < 1)
    throw UsageError("model.kind = '" + d.get<std::string>("model.kind") + "' needs model.neural_rank >= 1");
  o.support = d.get<std::string>("fit.support");
  if (o.support != "auto" && o.support != "all" && o.support != "edgelist" && o.support != "knn")
    throw UsageError("fit.support = '" + o.support + "' is unknown; use auto, all, edgelist or knn");
  o.all_max_genes = d.get<int>("fit.all_max_genes");
  o.edge_list = relative_to_deck(d, d.get<std::string>("fit.edge_list"));
  if (o.support == "edgelist" && o.edge_list.empty())
    throw UsageError("fit.support = 'edgelist' needs fit.edge_list (a TSV of regulator<TAB>target)");
  o.knn = d.get<int>("fit.knn");
  o.target_out_degree = d.get<int>("fit.target_out_degree");
  o.shared_response = d.get<bool>("fit.shared_response");
  o.validation_fraction = d.get<double>("fit.validation_fraction");
  o.test_fraction = d.get<double>("fit.test_fraction");
  if (o.validation_fraction + o.test_fraction >= 1)
    throw UsageError("fit.validation_fraction and fit.test_fraction must sum to less than 1");
  o.seed = static_cast<std::uint64_t>(d.get<long>("run.seed"));
  const long split_seed = d.get<long>("fit.split_seed");
  o.split_seed = split_seed != 0 ? static_cast<std::uint64_t>(split_seed) : o.seed;
  o.pseudocount = d.get<double>("fit.pseudocount");
  o.lambda_ss = d.get<double>("fit.lambda_ss");
  o.lambda_l1 = d.get<double>("fit.lambda_l1");
  o.l1_smoothing = d.get<double>("fit.l1_smoothing");
  o.lambda_l2 = d.get<double>("fit.lambda_l2");
  o.kappa = d.get<double>("fit.kappa");
  o.learn_kappa = d.get<bool>("fit.learn_kappa");
  o.kappa_min = d.get<double>("fit.kappa_min");
  o.kappa_max = d.get<double>("fit.kappa_max");
  if (!(o.kappa_min <= o.kappa && o.kappa <= o.kappa_max && o.kappa_max < 1))
    throw UsageError("fit.kappa must lie in [fit.kappa_min, fit.kappa_max] and fit.kappa_max < 1 (kappa = 1 silences "
                     "a gene completely and makes its production unidentifiable)");
  o.fit_decay = d.get<bool>("fit.fit_decay");
  const auto optimizer = d.get<std::string>("fit.optimizer");
  if (optimizer != "lbfgs" && optimizer != "tao" && optimizer != "adam")
    throw UsageError("fit.optimizer = '" + optimizer + "' is unknown; use lbfgs, tao or adam");
  o.optimizer = optimizer == "adam" ? Optimizer::kAdam : optimizer == "tao" ? Optimizer::kTao : Optimizer::kLbfgs;
  o.lbfgs_memory = d.get<int>("fit.lbfgs_memory");
  o.max_iterations = d.get<int>("fit.max_iterations");
  o.gatol = d.get<double>("fit.gatol");
  o.learning_rate = d.get<double>("fit.learning_rate");
  o.checkpoint_every = d.get<int>("fit.checkpoint_every");
  if (d.get<std::string>("data.likelihood") != "gaussian")
    throw UsageError("fit supports data.likelihood = gaussian (pseudo-bulk) only; the per-cell negative-binomial "
                     "likelihood is not implemented yet");
  o.truth = relative_to_deck(d, d.get<std::string>("fit.truth"));
  o.steady = solvers::steady_state_options(d);
  o.steady.atol = d.get<double>("fit.steady_atol");
  o.steady.stability = solvers::StabilityMode::kSkip;  // checked once on the fitted model, not every evaluation
  o.batch_size = d.get<int>("solver.batch_size");
  o.adjoint_rtol = d.get<double>("fit.adjoint_rtol");
  o.gradient_directions = d.get<int>("fit.gradient_directions");
  o.validation_every = d.get<int>("fit.validation_every");
  o.max_weight = d.get<double>("fit.max_weight");
  if (!(o.max_weight > 0)) throw UsageError("fit.max_weight must be > 0");
  o.validation_patience = d.get<int>("fit.validation_patience");
  if (o.validation_every < 0 || o.validation_patience < 0)
    throw UsageError("fit.validation_every and fit.validation_patience must be >= 0 (0: off)");
  return o;
}

}  // namespace perturbfit::fit
