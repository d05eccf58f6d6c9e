#include "perturbfit/config/schema.hpp"

#include <sstream>

namespace perturbfit::config {

using nlohmann::json;
using VT = ValueType;

const std::vector<SectionSpec>& deck_sections() {
  static const std::vector<SectionSpec> sections = {
      {"run", "What this run is called and how it draws random numbers.",
       {
           {"seed", VT::kInt, 1, "master seed; every random draw is keyed by it and by an entity id (cell, guide, gene), so results do not depend on the rank count"},
           {"name", VT::kString, "perturbfit", "label recorded in the provenance record"},
       }},
      {"model", "Which vector field f (MODEL.md section 3) is used.",
       {
           {"kind", VT::kString, "mechanistic", "mechanistic (n = 0) | hybrid (mechanistic + low-rank neural correction) | neural (A tanh(Bx + Cm + d) - gamma x)"},
           {"neural_rank", VT::kInt, 0, "rank h of the neural correction A tanh(B x + C m + d); must be > 0 for hybrid and neural"},
           {"neural_scale", VT::kFloat, 0.1, "scale of the simulated neural correction's weights (ground truth only)"},
       }},
      {"network", "The ground-truth gene-regulatory network and its parameters (simulate).",
       {
           {"generator", VT::kString, "random", "random | modular | toggle (two-gene bistable switch) | edgelist (TSV: source, target, weight)"},
           {"genes", VT::kInt, 200, "number of genes G (random and modular)"},
           {"mean_in_degree", VT::kFloat, 3.0, "mean number of regulators per gene (random and modular)"},
           {"activating_fraction", VT::kFloat, 0.5, "fraction of edges with positive weight"},
           {"weight_scale", VT::kFloat, 1.0, "standard deviation of edge weights before the contraction scaling"},
           {"modules", VT::kInt, 4, "number of modules (modular)"},
           {"between_module_fraction", VT::kFloat, 0.05, "fraction of edges that cross modules (modular)"},
           {"edge_list", VT::kString, "", "edge list TSV (edgelist): source<TAB>target<TAB>weight; relative to the deck"},
           {"contraction", VT::kFloat, 0.8, "rows of W are scaled so that v/4 * sum|W| <= contraction * gamma; < 1 guarantees a unique stable steady state"},
           {"media", VT::kInt, 1, "number K of medium (environment) inputs"},
           {"medium_gene_fraction", VT::kFloat, 0.1, "fraction of genes that respond to each medium input"},
           {"medium_weight", VT::kFloat, 1.0, "standard deviation of the medium response weights U"},
           {"decay_mean", VT::kFloat, 1.0, "median decay rate gamma (log-normal across genes)"},
           {"decay_sd", VT::kFloat, 0.2, "log-scale standard deviation of gamma"},
           {"production_mean", VT::kFloat, 2.0, "median maximal regulated production v (log-normal)"},
           {"basal_mean", VT::kFloat, 0.1, "median basal production beta (log-normal)"},
           {"bias_sd", VT::kFloat, 0.5, "standard deviation of the activation bias c"},
           {"growth_rate", VT::kFloat, 0.03, "baseline net growth rate r0 of every cell (expand steps)"},
           {"fitness_genes", VT::kInt, 0, "number of genes whose expression changes the growth rate (phi != 0)"},
           {"fitness_scale", VT::kFloat, 0.01, "standard deviation of the nonzero fitness weights phi"},
       }},
      {"solver", "Steady-state and time-integration solvers. PETSc options (-snes_*, -ksp_*, -pc_*) override the SNES settings.",
       {
           {"steady_atol", VT::kFloat, 1e-9, "absolute tolerance on ||f(x*)||_2 for a steady state"},
           {"steady_rtol", VT::kFloat, 1e-12, "relative tolerance of the Newton iteration"},
           {"steady_max_it", VT::kInt, 50, "maximum Newton iterations before the fallback"},
           {"fallback", VT::kString, "cvodes", "what to do when Newton fails: cvodes (integrate towards the attractor, then Newton again) | none"},
           {"fallback_time", VT::kFloat, 200.0, "integration horizon of the fallback, in model time units"},
           {"stability", VT::kString, "check", "check | skip: test each steady state for stability (leading eigenvalue of df/dx)"},
           {"stability_iterations", VT::kInt, 40, "power iterations on the Cayley transform of df/dx for the stability test"},
           {"batch_size", VT::kInt, 32, "perturbations solved together by the batched Newton-GMRES and, in a fit, the batched adjoint GMRES (one pass over W serves the batch); 0: PETSc SNES and KSP for each"},
           {"multistart", VT::kInt, 4, "extra random starts for the control steady state, to detect several attractors"},
           {"ode_rtol", VT::kFloat, 1e-6, "CVODES relative tolerance"},
           {"ode_atol", VT::kFloat, 1e-9, "CVODES absolute tolerance"},
           {"ode_max_steps", VT::kInt, 100000, "CVODES maximum internal steps per output interval"},
       }},
      {"measure", "Ground-truth measurement operator (MODEL.md section 5): library size, batch offsets, ZINB counts.",
       {
           {"dispersion", VT::kFloat, 10.0, "median negative-binomial size phi (larger = closer to Poisson)"},
           {"dispersion_sd", VT::kFloat, 0.5, "log-scale standard deviation of phi across genes"},
           {"dropout", VT::kFloat, 0.02, "mean zero-inflation probability pi across genes"},
           {"batch_sd", VT::kFloat, 0.1, "standard deviation of the per-batch, per-gene log offsets delta"},
           {"depth_sd", VT::kFloat, 0.3, "log-scale standard deviation of the library size factor across cells"},
           {"panel_genes", VT::kStringList, json::array(), "genes the screen measures (its var); empty: every gene of the model"},
           {"panel_fraction", VT::kFloat, 1.0, "measure a random fraction of those genes (seeded by run.seed), as a targeted panel or a highly-variable-gene subset"},
           {"panel_excludes_targets", VT::kBool, false, "leave every targeted gene out of the panel: a screen whose targets are all unmeasured"},
       }},
      {"data", "How a screen (.h5ad) is read: where counts are, which obs columns mean what (inspect, fit).",
       {
           {"path", VT::kString, "", "the screen (.h5ad); relative to the deck; the command line's FILE wins"},
           {"layer", VT::kString, "", "read counts from layers/<name> instead of X; \"raw\" reads raw/X"},
           {"perturbation_key", VT::kString, "perturbation", "obs column naming each cell's targets"},
           {"control_labels", VT::kStringList, json::array({"control", "non-targeting", "ctrl", "NT"}), "labels of control cells in the perturbation column"},
           {"separator", VT::kString, "+", "separator of combinatorial targets (\"A+B\")"},
           {"batch_key", VT::kString, "batch", "obs column of the experimental batch; \"\" treats all cells as one batch"},
           {"time_key", VT::kString, "time", "obs column of the time since perturbation; used if present"},
           {"medium_key", VT::kString, "medium", "obs column of the medium; used if present"},
           {"genes_file", VT::kString, "", "keep only the genes listed in this file (one per line)"},
           {"top_variable", VT::kInt, 0, "keep only the N genes of highest log-normalised variance (0: all)"},
           {"keep_targets", VT::kBool, true, "gene selection (genes_file, top_variable) keeps every perturbation target present in var, so that measured targets stay measured"},
           {"likelihood", VT::kString, "gaussian", "gaussian (pseudo-bulk of log-normalised expression) | nb (counts must be integers)"},
           {"missing_targets", VT::kString, "latent", "a target absent from var: latent (the fit models it as an unmeasured node of the network, knocked down by its guides) | skip (drop its cells, with a warning) | error"},
           {"allow_uncontrolled_batches", VT::kBool, false, "accept batches without control cells (their offsets are then unidentifiable; a loud warning)"},
           {"allow_empty_groups", VT::kBool, false, "accept perturbation categories with no cells"},
           {"min_cells_per_group", VT::kInt, 20, "groups with fewer cells are reported by inspect"},
       }},
      {"fit", "Fitting the model to a screen (`perturbfit fit`, MODEL.md sections 8 and 9). PETSc TAO options take the prefix -fit_ (e.g. -fit_tao_type lmvm).",
       {
           {"support", VT::kString, "auto", "support pattern of W: all (every regulator -> target pair) | edgelist (a prior network) | knn (k most co-expressed regulators per gene) | auto (all if G <= all_max_genes, else knn)"},
           {"all_max_genes", VT::kInt, 500, "largest G for which support = auto means all-to-all"},
           {"edge_list", VT::kString, "", "prior network TSV (support = edgelist): regulator<TAB>target per line; relative to the deck"},
           {"knn", VT::kInt, 10, "regulators per gene for support = knn (by |correlation| of group means of training groups)"},
           {"target_out_degree", VT::kInt, 100, "candidate out-edges of every target perturbed in training, measured or latent (with support = edgelist: only of targets the prior gives none): the measured genes that respond most to its knockdown in the training groups"},
           {"shared_response", VT::kBool, true, "model the response common to every targeting guide (cutting, stress, selection) as one unobserved node that each targeting guide knocks down, with out-edges to every measured gene; it is learned in training and predicts the common part of unseen perturbations"},
           {"validation_fraction", VT::kFloat, 0.1, "fraction of non-control perturbations held out for validation"},
           {"test_fraction", VT::kFloat, 0.2, "fraction of non-control perturbations held out for testing"},
           {"split_seed", VT::kInt, 0, "seed of the train/validation/test split; 0 uses run.seed"},
           {"pseudocount", VT::kFloat, 0.1, "epsilon of log(epsilon + mean normalised expression), in normalised counts"},
           {"lambda_ss", VT::kFloat, 0.0, "weight of the steady-state residual of the observed control states (0 = vanilla end-to-end)"},
           {"lambda_l1", VT::kFloat, 3e-4, "weight of the L1 penalty on W (smoothed: sqrt(W^2 + l1_smoothing^2)), per measured gene: the penalty is lambda_l1 / G * sum |W|, like the data term a mean over genes"},
           {"l1_smoothing", VT::kFloat, 1e-3, "smoothing of |W| in the L1 penalty"},
           {"lambda_l2", VT::kFloat, 2e-4, "weight of the squared norm of W, U and the neural weights (not of the intercepts c), per measured gene (lambda_l2 / G * sum)"},
           {"kappa", VT::kFloat, 0.8, "initial guide efficiency (one value for every target)"},
           {"learn_kappa", VT::kBool, true, "fit the efficiency kappa (bounded to [kappa_min, kappa_max])"},
           {"kappa_min", VT::kFloat, -10.0, "lower bound of kappa (< 0 allows activation)"},
           {"kappa_max", VT::kFloat, 0.999, "upper bound of kappa"},
           {"fit_decay", VT::kBool, false, "fit gamma too; steady states do not identify it (f / gamma has the same zeros), so it stays at 1 by default"},
           {"optimizer", VT::kString, "lbfgs", "lbfgs (projected limited-memory quasi-Newton over all training groups; its memory is checkpointed) | tao (PETSc TAO, BLMVM or any -fit_tao_type; restarted at every checkpoint) | adam (minibatches formed by experimental batch, each with its controls)"},
           {"lbfgs_memory", VT::kInt, 10, "pairs of past steps kept by lbfgs"},
           {"max_iterations", VT::kInt, 200, "optimizer iterations (adam: steps, one batch each)"},
           {"gatol", VT::kFloat, 1e-7, "lbfgs and tao stop when the projected gradient norm (of the scaled variables) falls below this"},
           {"learning_rate", VT::kFloat, 3e-4, "adam step size (every coordinate moves by about this much per step: keep it small)"},
           {"checkpoint_every", VT::kInt, 10, "write OUT/checkpoint.h5 every N iterations (0: only on a signal and at the end)"},
           {"truth", VT::kString, "", "truth.h5 of a simulated screen: report parameter error and AUPRC of recovered edges; relative to the deck"},
           {"steady_atol", VT::kFloat, 1e-10, "absolute tolerance on ||f(z*)|| of the fit's steady states, z = x/S dimensionless (tight: gradients are exact only at exact steady states; --check-gradient solves to at most 1e-13)"},
           {"adjoint_rtol", VT::kFloat, 1e-10, "relative tolerance of the adjoint (transposed) GMRES solves"},
           {"gradient_directions", VT::kInt, 4, "random directions of `fit --check-gradient`"},
           {"max_weight", VT::kFloat, 5.0, "bound on |W| in model units (a regulator at its control level has z = 1); the shared response's out-weights are not bounded"},
           {"validation_every", VT::kInt, 5, "early stopping (lbfgs, adam): the data term of every validation group is computed every N iterations; the fit reports the latest iterate whose validation loss is within one (paired) standard error of the lowest (0: off, the last iterate)"},
           {"validation_patience", VT::kInt, 10, "early stopping: the fit ends when the lowest validation loss has not improved for this many checks (0: never; runs to max_iterations)"},
       }},
      {"output", "What is written.",
       {
           {"write_truth", VT::kBool, true, "write truth.h5 (network, parameters, latent states) beside screen.h5ad"},
       }},
  };
  return sections;
}

const std::vector<StepSpec>& protocol_steps() {
  static const std::vector<StepSpec> steps = {
      {"medium", "Sets the environment m (K values).",
       {
           {"name", VT::kString, "medium", "label written to obs/medium for cells measured in this medium"},
           {"values", VT::kFloatList, json::array(), "the K medium inputs; empty means all zero"},
       }},
      {"perturb", "Assigns guides to cells and switches kappa (MODEL.md section 3).",
       {
           {"singles", VT::kInt, 0, "number of single-gene targets drawn at random (in addition to `targets`)"},
           {"pairs", VT::kInt, 0, "number of two-gene combinations drawn from the single targets (in addition to `combinations`)"},
           {"targets", VT::kStringList, json::array(), "explicit single targets (gene names)"},
           {"combinations", VT::kStringList, json::array(), "explicit combinations, targets joined by '+'"},
           {"guides_per_target", VT::kInt, 2, "guides per library element, each with its own efficiency"},
           {"control_guides", VT::kInt, 4, "number of non-targeting guides"},
           {"controls_fraction", VT::kFloat, 0.1, "fraction of cells that receive a non-targeting guide"},
           {"kappa", VT::kFloat, 0.9, "mean guide efficiency: in (0, 1] knocks down, < 0 activates"},
           {"kappa_sd", VT::kFloat, 0.05, "standard deviation of guide efficiency around kappa"},
           {"tau", VT::kFloat, 0.0, "onset time constant of the perturbation; 0 is instantaneous"},
           {"moi", VT::kFloat, 0.0, "multiplicity of infection (Poisson); > 0 adds cells carrying two library elements"},
           {"control_label", VT::kString, "control", "obs/perturbation label of control cells"},
       }},
      {"evolve", "Integrates dx/dt = f (and the weights) for dt with CVODES.",
       {
           {"dt", VT::kFloat, nullptr, "time to integrate (required, > 0)"},
       }},
      {"equilibrate", "Replaces every state by its steady state (t -> infinity).", {}},
      {"expand", "Population growth with selection: weights grow as dw/dt = (r0 + phi.x) w for dt.",
       {
           {"dt", VT::kFloat, nullptr, "time to grow (required, > 0)"},
       }},
      {"passage", "Bottleneck: resamples `cells` cells from the weighted population.",
       {
           {"cells", VT::kInt, nullptr, "bottleneck size (required, > 0)"},
       }},
      {"measure", "Sequences cells: draws cells by weight and applies the measurement operator.",
       {
           {"cells", VT::kInt, nullptr, "number of cells sequenced (required, > 0)"},
           {"batches", VT::kInt, 1, "number of experimental batches; cells are spread evenly"},
           {"depth", VT::kFloat, 2000.0, "mean UMIs per cell"},
           {"batch_prefix", VT::kString, "batch", "batch labels are <prefix><index>; each measure step continues the numbering"},
       }},
  };
  return steps;
}

const char* type_name(ValueType t) {
  switch (t) {
    case VT::kInt: return "integer";
    case VT::kFloat: return "number";
    case VT::kBool: return "boolean";
    case VT::kString: return "string";
    case VT::kFloatList: return "array of numbers";
    case VT::kStringList: return "array of strings";
  }
  return "?";
}

namespace {
// A '|' in a Markdown table cell ends the cell unless escaped.
std::string table_cell(const std::string& text) {
  std::string out;
  for (char ch : text) {
    if (ch == '|') out += '\\';
    out += ch;
  }
  return out;
}

void key_table(std::ostringstream& os, const std::vector<KeySpec>& keys) {
  if (keys.empty()) {
    os << "No keys.\n\n";
    return;
  }
  os << "| key | type | default | meaning |\n|---|---|---|---|\n";
  for (const auto& k : keys) {
    os << "| `" << k.key << "` | " << type_name(k.type) << " | "
       << (k.default_value.is_null() ? std::string("required") : "`" + k.default_value.dump() + "`") << " | "
       << table_cell(k.doc) << " |\n";
  }
  os << "\n";
}
}  // namespace

std::string deck_reference_markdown() {
  std::ostringstream os;
  os << "# Input deck reference\n\n"
        "Generated by `perturbfit reference` from the schema in `src/config/schema.cpp`; do not edit by hand.\n"
        "Unknown keys are an error. Any key can be overridden on the command line with\n"
        "`--set section.key=value` (protocol steps: `--set protocol.N.key=value`, N from 0).\n\n";
  for (const auto& s : deck_sections()) {
    os << "## [" << s.name << "]\n\n" << s.doc << "\n\n";
    key_table(os, s.keys);
  }
  os << "## [[protocol]]\n\nAn ordered list of steps (MODEL.md section 4); each has `step = \"<kind>\"`.\n\n";
  for (const auto& st : protocol_steps()) {
    os << "### step = \"" << st.name << "\"\n\n" << st.doc << "\n\n";
    key_table(os, st.keys);
  }
  return os.str();
}

}  // namespace perturbfit::config
