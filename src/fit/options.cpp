#include "perturbfit/fit/options.hpp"

#include "perturbfit/config/schema.hpp"

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
    case Optimizer::kLbfgs:
      return "lbfgs";
    case Optimizer::kTao:
      return "tao";
    case Optimizer::kAdam:
      return "adam";
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
  o.lambda_abundance = d.get<double>("fit.lambda_abundance");
  o.lambda_fitness_l1 = d.get<double>("fit.lambda_fitness_l1");
  o.kappa = d.get<double>("fit.kappa");
  o.learn_kappa = d.get<bool>("fit.learn_kappa");
  o.kappa_min = d.get<double>("fit.kappa_min");
  o.kappa_max = d.get<double>("fit.kappa_max");
  if (!(o.kappa_min <= o.kappa && o.kappa <= o.kappa_max && o.kappa_max < 1))
    throw UsageError(
        "fit.kappa must lie in [fit.kappa_min, fit.kappa_max] and fit.kappa_max < 1 (kappa = 1 silences "
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
  o.count_likelihood = d.get<std::string>("data.likelihood") == "nb";
  o.zero_inflation = d.get<bool>("fit.zero_inflation");
  if (o.zero_inflation && !o.count_likelihood)
    throw UsageError(
        "fit.zero_inflation = true needs data.likelihood = \"nb\" (the Gaussian pseudo-bulk has no per-cell zeros "
        "to inflate)");
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
  const auto niche = d.get<std::string>("fit.niche");
  if (niche != "off" && niche != "coupled") throw UsageError("fit.niche = '" + niche + "' is unknown; use off or coupled");
  o.niche = niche == "coupled";
  o.niche_channels = d.get<int>("fit.niche_channels");
  o.batch_offsets = d.get<bool>("fit.batch_offsets");
  const auto production = d.get<std::string>("fit.production_response");
  if (production != "auto" && production != "on" && production != "off")
    throw UsageError("fit.production_response = '" + production + "' is unknown; use auto, on or off");
  o.production_response = production == "on" || (production == "auto" && !d.get<std::string>("data.cell_type_key").empty());
  const auto dynamics = d.get<std::string>("fit.dynamics");
  if (dynamics != "auto" && dynamics != "steady" && dynamics != "time_course")
    throw UsageError("fit.dynamics = '" + dynamics + "' is unknown; use auto, steady or time_course");
  o.dynamics = dynamics == "steady"        ? FitOptions::Dynamics::kSteady
               : dynamics == "time_course" ? FitOptions::Dynamics::kTimeCourse
                                           : FitOptions::Dynamics::kAuto;
  o.steady_times = d.get<std::vector<std::string>>("fit.steady_times");
  o.heldout_times = d.get<std::vector<std::string>>("fit.heldout_times");
  o.onset_tau = d.get<double>("fit.onset_tau");
  o.controls_steady = d.get<bool>("fit.controls_steady");
  o.trajectory.ode.rtol = d.get<double>("fit.ode_rtol");
  o.trajectory.ode.atol = d.get<double>("fit.ode_atol");
  o.trajectory.ode.max_steps = d.get<long>("solver.ode_max_steps");
  o.trajectory.checkpoint_steps = d.get<int>("fit.checkpoint_steps");
  if (o.niche) {
    o.ligand_genes = d.values().at("niche").at("ligand_genes").get<std::vector<std::string>>();
    if (o.ligand_genes.empty())
      throw UsageError(
          "fit.niche = coupled needs the ligand (secreting) genes by name in [niche].ligand_genes: the niche "
          "is the animal's mean of their expression");
    if (o.lambda_ss > 0)
      throw UsageError(
          "fit.lambda_ss > 0 with fit.niche = coupled is not implemented (the steady-state term would need each "
          "animal's niche); set fit.lambda_ss = 0");
    if (o.optimizer == Optimizer::kAdam)
      throw UsageError("fit.niche = coupled supports fit.optimizer = lbfgs or tao (adam's minibatches split animals)");
  }
  return o;
}

// A table, one line per key:
// clang-format off
config::SectionSpec fit_section() {
  using namespace config::key_table;
  return {"fit", "Fitting the model to a screen (`perturbfit fit`, MODEL.md sections 8 and 9). PETSc TAO options take the prefix -fit_ (e.g. -fit_tao_type lmvm).",
       {
           {"support", VT::kString, "auto", "support pattern of W: all (every regulator -> target pair) | edgelist (a prior network) | knn (k most co-expressed regulators per gene) | auto (all if G <= all_max_genes, else knn)"},
           {"all_max_genes", VT::kInt, 500, "largest G for which support = auto means all-to-all", range::count(0)},
           {"edge_list", VT::kString, "", "prior network TSV (support = edgelist): regulator<TAB>target per line; relative to the deck"},
           {"knn", VT::kInt, 10, "regulators per gene for support = knn (by |correlation| of group means of training groups)", range::count(1, 100000)},
           {"target_out_degree", VT::kInt, 100, "candidate out-edges of every target perturbed in training, measured or latent (with support = edgelist: only of targets the prior gives none): the measured genes that respond most to its knockdown in the training groups", range::count(1, 1000000)},
           {"shared_response", VT::kBool, true, "model the response common to every targeting guide (cutting, stress, selection) as one unobserved node that each targeting guide knocks down, with out-edges to every measured gene; it is learned in training and predicts the common part of unseen perturbations"},
           {"validation_fraction", VT::kFloat, 0.1, "fraction of non-control perturbations held out for validation", range::between(0.0, 0.9)},
           {"test_fraction", VT::kFloat, 0.2, "fraction of non-control perturbations held out for testing", range::between(0.0, 0.9)},
           {"split_seed", VT::kInt, 0, "seed of the train/validation/test split; 0 uses run.seed", range::count(0, 9007199254740992.0)},
           {"pseudocount", VT::kFloat, 0.1, "epsilon of log(epsilon + mean normalised expression), in normalised counts", range::positive()},
           {"lambda_ss", VT::kFloat, 0.0, "weight of the steady-state residual of the observed control states (0 = vanilla end-to-end)", range::non_negative()},
           {"lambda_l1", VT::kFloat, 3e-4, "weight of the L1 penalty on W (smoothed: sqrt(W^2 + l1_smoothing^2)), per measured gene: the penalty is lambda_l1 / G * sum |W|, like the data term a mean over genes", range::non_negative()},
           {"l1_smoothing", VT::kFloat, 1e-3, "smoothing of |W| in the L1 penalty", range::positive()},
           {"lambda_abundance", VT::kFloat, 1.0, "weight of the guide-abundance term (with data.guide_counts), per measured gene (lambda_abundance / G x the inverse-variance weighted mean over training perturbations and series of (dt phi . (z_p - z_control) - observed log change of the guides' share relative to controls)^2: an observation weighs about as much as one gene of its perturbation's profile); phi (one weight per node, ridge lambda_l2) is fitted with the model", range::non_negative()},
           {"lambda_fitness_l1", VT::kFloat, 0.0, "weight of the (smoothed, fit.l1_smoothing) L1 norm of phi (with data.guide_counts), per measured gene like lambda_l1: a prior that few genes drive growth; 0 by default: in the selection study (docs/in_vivo.md) it did not lower the held-out error", range::non_negative()},
           {"lambda_l2", VT::kFloat, 2e-4, "weight of the squared norm of W, U and the neural weights (not of the intercepts c), per measured gene (lambda_l2 / G * sum)", range::non_negative()},
           {"kappa", VT::kFloat, 0.8, "initial guide efficiency (one value for every target)", range::between(-1e6, 0.999999)},
           {"learn_kappa", VT::kBool, true, "fit the efficiency kappa (bounded to [kappa_min, kappa_max])"},
           {"kappa_min", VT::kFloat, -10.0, "lower bound of kappa (< 0 allows activation)", range::any()},
           {"kappa_max", VT::kFloat, 0.999, "upper bound of kappa", range::between(-1e6, 0.999999)},
           {"fit_decay", VT::kBool, false, "fit gamma too; steady states do not identify it (f / gamma has the same zeros), so it stays at 1 by default"},
           {"optimizer", VT::kString, "lbfgs", "lbfgs (projected limited-memory quasi-Newton over all training groups; its memory is checkpointed) | tao (PETSc TAO, BLMVM or any -fit_tao_type; restarted at every checkpoint) | adam (minibatches formed by experimental batch, each with its controls)"},
           {"lbfgs_memory", VT::kInt, 10, "pairs of past steps kept by lbfgs", range::count(1, 1000)},
           {"max_iterations", VT::kInt, 200, "optimizer iterations (adam: steps, one batch each)", range::count(0)},
           {"gatol", VT::kFloat, 1e-7, "lbfgs and tao stop when the projected gradient norm (of the scaled variables) falls below this", range::non_negative()},
           {"learning_rate", VT::kFloat, 3e-4, "adam step size (every coordinate moves by about this much per step: keep it small)", range::positive()},
           {"checkpoint_every", VT::kInt, 10, "write OUT/checkpoint.h5 every N iterations (0: only on a signal and at the end)", range::count(0)},
           {"truth", VT::kString, "", "truth.h5 of a simulated screen: report parameter error and AUPRC of recovered edges; relative to the deck"},
           {"steady_atol", VT::kFloat, 1e-10, "absolute tolerance on ||f(z*)|| of the fit's steady states, z = x/S dimensionless (tight: gradients are exact only at exact steady states; --check-gradient solves to at most 1e-13)", range::positive()},
           {"adjoint_rtol", VT::kFloat, 1e-10, "relative tolerance of the adjoint (transposed) GMRES solves", range::positive()},
           {"gradient_directions", VT::kInt, 4, "random directions of `fit --check-gradient`", range::count(1, 10000)},
           {"max_weight", VT::kFloat, 5.0, "bound on |W| in model units (a regulator at its control level has z = 1); the shared response's out-weights are not bounded", range::positive()},
           {"validation_every", VT::kInt, 5, "early stopping (lbfgs, adam): the data term of every validation group is computed every N iterations; the fit reports the latest iterate whose validation loss is within one (paired) standard error of the lowest (0: off, the last iterate)", range::count(0)},
           {"niche", VT::kString, "off", "in vivo niche coupling (MODEL.md section 7; docs/in_vivo.md): off (each group's steady state on its own; animals are batches with their own offsets) | coupled (every animal's groups share niche factors n_a = Gamma <x[ligands]>_w over all its groups, every split, weighted by cells; the ligand genes are [niche].ligand_genes; Gamma is fitted)"},
           {"production_response", VT::kString, "auto", "auto | on | off: fit a production response Q (G x media channels): in medium m gene g's maximal production is v_g exp(Q_g . m), as its activation is c_g + U_g . m; auto = on with data.cell_type_key, where every (medium, type) is a medium: each type's own v (docs/in_vivo.md, Cell types)"},
           {"batch_offsets", VT::kBool, true, "estimate each batch's offset from its own controls (MODEL.md section 9); false: no offsets, every difference between batches is left to the model (right when batches carry no technical effect, e.g. animals multiplexed in the same lanes; with fit.niche = coupled the animals' niches can then explain their differences, which offsets would absorb)"},
           {"niche_channels", VT::kInt, 0, "fit.niche = coupled: niche channels K (Gamma is K x L; they enter f as medium channels through U and C); 0: one per ligand gene", range::count(0, 10000)},
           {"dynamics", VT::kString, "auto", "steady (every group at its steady state, whatever its time) | time_course (a group at a numeric time t is predicted by integrating the model for t from the observed control state of its medium's earliest time, with the perturbation's onset fit.onset_tau; CVODES, gradients by the CVODES adjoint) | auto (time_course when the screen has two or more numeric times, else steady). Time labels are in the model's time unit (1/gamma)"},
           {"steady_times", VT::kStringList, nlohmann::json::array(), "time labels whose groups are steady states in a time-course fit (e.g. [\"late\"] or [\"96\"])"},
           {"heldout_times", VT::kStringList, nlohmann::json::array(), "time labels held out of the fit (every perturbation, controls too): their groups are in no loss and no baseline, and are evaluated as \"later times\" in metrics.json (extrapolation in time; without a time course they are steady states like the others)"},
           {"onset_tau", VT::kFloat, 0.0, "time constant of the perturbation's onset in a time-course fit: kappa(t) = kappa (1 - exp(-t / onset_tau)); 0: instantaneous", range::non_negative()},
           {"zero_inflation", VT::kBool, false, "with data.likelihood = nb: each gene also has a probability pi_g of a structural zero (ZINB), learned with its NB size; false: plain NB"},
           {"controls_steady", VT::kBool, true, "time courses: the control cells are at a steady state at every time (a non-differentiating system), so the steady-state term (lambda_ss) applies to every (medium, time) of controls; false (differentiating): only to those at fit.steady_times"},
           {"ode_rtol", VT::kFloat, 1e-8, "CVODES relative tolerance of the fit's time courses and their adjoints (--check-gradient uses at most 1e-10)", range::positive()},
           {"ode_atol", VT::kFloat, 1e-10, "CVODES absolute tolerance of the fit's time courses, in model units (--check-gradient uses at most 1e-12)", range::positive()},
           {"checkpoint_steps", VT::kInt, 100, "time courses: forward steps between the checkpoints the CVODES adjoint stores (fewer: more memory, less recomputation)", range::count(1, 100000)},
           {"validation_patience", VT::kInt, 10, "early stopping: the fit ends when the lowest validation loss has not improved for this many checks (0: never; runs to max_iterations)", range::count(0)},
       }};
}
// clang-format on

}  // namespace perturbfit::fit
