#include "perturbfit/config/schema.hpp"

#include <cmath>
#include <sstream>

namespace perturbfit::config {

using nlohmann::json;
using VT = ValueType;

const std::vector<SectionSpec>& deck_sections() {
  static const std::vector<SectionSpec> sections = {
      {"run", "What this run is called and how it draws random numbers.",
       {
           {"seed", VT::kInt, 1, "master seed; every random draw is keyed by it and by an entity id (cell, guide, gene), so results do not depend on the rank count", range::count(0, 9007199254740992.0)},
           {"name", VT::kString, "perturbfit", "label recorded in the provenance record"},
       }},
      {"model", "Which vector field f (MODEL.md section 3) is used.",
       {
           {"kind", VT::kString, "mechanistic", "mechanistic (n = 0) | hybrid (mechanistic + low-rank neural correction) | neural (A tanh(Bx + Cm + d) - gamma x)"},
           {"neural_rank", VT::kInt, 0, "rank h of the neural correction A tanh(B x + C m + d); must be > 0 for hybrid and neural", range::count(0, 10000)},
           {"neural_scale", VT::kFloat, 0.1, "scale of the simulated neural correction's weights (ground truth only)", range::non_negative()},
       }},
      {"network", "The ground-truth gene-regulatory network and its parameters (simulate).",
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
       }},
      {"solver", "Steady-state and time-integration solvers. PETSc options (-snes_*, -ksp_*, -pc_*) override the SNES settings.",
       {
           {"steady_atol", VT::kFloat, 1e-9, "absolute tolerance on ||f(x*)||_2 for a steady state", range::positive()},
           {"steady_rtol", VT::kFloat, 1e-12, "relative tolerance of the Newton iteration", range::non_negative()},
           {"steady_max_it", VT::kInt, 50, "maximum Newton iterations before the fallback", range::count(1, 100000)},
           {"fallback", VT::kString, "cvodes", "what to do when Newton fails: cvodes (integrate towards the attractor, then Newton again) | none"},
           {"fallback_time", VT::kFloat, 200.0, "integration horizon of the fallback, in model time units", range::positive()},
           {"stability", VT::kString, "check", "check | skip: test each steady state for stability (leading eigenvalue of df/dx)"},
           {"stability_iterations", VT::kInt, 40, "power iterations on the Cayley transform of df/dx for the stability test", range::count(1, 100000)},
           {"batch_size", VT::kInt, 32, "perturbations solved together by the batched Newton-GMRES and, in a fit, the batched adjoint GMRES (one pass over W serves the batch); 0: PETSc SNES and KSP for each", range::count(0, 100000)},
           {"multistart", VT::kInt, 4, "extra random starts for the control steady state, to detect several attractors", range::count(0, 10000)},
           {"ode_rtol", VT::kFloat, 1e-6, "CVODES relative tolerance", range::positive()},
           {"ode_atol", VT::kFloat, 1e-9, "CVODES absolute tolerance", range::positive()},
           {"ode_max_steps", VT::kInt, 100000, "CVODES maximum internal steps per output interval", range::count(1)},
       }},
      {"measure", "Ground-truth measurement operator (MODEL.md section 5): library size, batch offsets, ZINB counts.",
       {
           {"dispersion", VT::kFloat, 10.0, "median negative-binomial size phi (larger = closer to Poisson)", range::positive()},
           {"dispersion_sd", VT::kFloat, 0.5, "log-scale standard deviation of phi across genes", range::non_negative()},
           {"dropout", VT::kFloat, 0.02, "mean zero-inflation probability pi across genes", range::between(0.0, 0.999)},
           {"batch_sd", VT::kFloat, 0.1, "standard deviation of the per-batch, per-gene log offsets delta", range::non_negative()},
           {"depth_sd", VT::kFloat, 0.3, "log-scale standard deviation of the library size factor across cells", range::non_negative()},
           {"panel_genes", VT::kStringList, json::array(), "genes the screen measures (its var); empty: every gene of the model"},
           {"panel_fraction", VT::kFloat, 1.0, "measure a random fraction of those genes (seeded by run.seed), as a targeted panel or a highly-variable-gene subset", {0.0, 1.0, true}},
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
           {"top_variable", VT::kInt, 0, "keep only the N genes of highest log-normalised variance (0: all)", range::count(0)},
           {"keep_targets", VT::kBool, true, "gene selection (genes_file, top_variable) keeps every perturbation target present in var, so that measured targets stay measured"},
           {"likelihood", VT::kString, "gaussian", "gaussian (pseudo-bulk of log-normalised expression) | nb (counts must be integers)"},
           {"missing_targets", VT::kString, "latent", "a target absent from var: latent (the fit models it as an unmeasured node of the network, knocked down by its guides) | skip (drop its cells, with a warning) | error"},
           {"allow_uncontrolled_batches", VT::kBool, false, "accept batches without control cells (their offsets are then unidentifiable; a loud warning)"},
           {"allow_empty_groups", VT::kBool, false, "accept perturbation categories with no cells"},
           {"min_cells_per_group", VT::kInt, 20, "groups with fewer cells are reported by inspect", range::count(0)},
       }},
      {"fit", "Fitting the model to a screen (`perturbfit fit`, MODEL.md sections 8 and 9). PETSc TAO options take the prefix -fit_ (e.g. -fit_tao_type lmvm).",
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
           {"validation_patience", VT::kInt, 10, "early stopping: the fit ends when the lowest validation loss has not improved for this many checks (0: never; runs to max_iterations)", range::count(0)},
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
           {"values", VT::kFloatList, json::array(), "the K medium inputs; empty means all zero", range::any()},
       }},
      {"perturb", "Assigns guides to cells and switches kappa (MODEL.md section 3).",
       {
           {"singles", VT::kInt, 0, "number of single-gene targets drawn at random (in addition to `targets`)", range::count(0, 1000000)},
           {"pairs", VT::kInt, 0, "number of two-gene combinations drawn from the single targets (in addition to `combinations`)", range::count(0, 10000000)},
           {"targets", VT::kStringList, json::array(), "explicit single targets (gene names)"},
           {"combinations", VT::kStringList, json::array(), "explicit combinations, targets joined by '+'"},
           {"guides_per_target", VT::kInt, 2, "guides per library element, each with its own efficiency", range::count(1, 1000)},
           {"control_guides", VT::kInt, 4, "number of non-targeting guides", range::count(1, 100000)},
           {"controls_fraction", VT::kFloat, 0.1, "fraction of cells that receive a non-targeting guide", range::fraction()},
           {"kappa", VT::kFloat, 0.9, "mean guide efficiency: in (0, 1] knocks down, < 0 activates", range::between(-1e6, 1.0)},
           {"kappa_sd", VT::kFloat, 0.05, "standard deviation of guide efficiency around kappa", range::non_negative()},
           {"tau", VT::kFloat, 0.0, "onset time constant of the perturbation; 0 is instantaneous", range::non_negative()},
           {"moi", VT::kFloat, 0.0, "multiplicity of infection (Poisson); > 0 adds cells carrying two library elements", range::between(0.0, 100.0)},
           {"control_label", VT::kString, "control", "obs/perturbation label of control cells"},
       }},
      {"evolve", "Integrates dx/dt = f (and the weights) for dt with CVODES.",
       {
           {"dt", VT::kFloat, nullptr, "time to integrate (required, > 0)", range::positive()},
       }},
      {"equilibrate", "Replaces every state by its steady state (t -> infinity).", {}},
      {"expand", "Population growth with selection: weights grow as dw/dt = (r0 + phi.x) w for dt.",
       {
           {"dt", VT::kFloat, nullptr, "time to grow (required, > 0)", range::positive()},
       }},
      {"passage", "Bottleneck: resamples `cells` cells from the weighted population.",
       {
           {"cells", VT::kInt, nullptr, "bottleneck size (required, > 0)", range::count(1, 100000000)},
       }},
      {"measure", "Sequences cells: draws cells by weight and applies the measurement operator.",
       {
           {"cells", VT::kInt, nullptr, "number of cells sequenced (required, > 0)", range::count(1, 100000000)},
           {"batches", VT::kInt, 1, "number of experimental batches; cells are spread evenly", range::count(1, 1000000)},
           {"depth", VT::kFloat, 2000.0, "mean UMIs per cell", range::between(1.0, 1e9)},
           {"batch_prefix", VT::kString, "batch", "batch labels are <prefix><index>; each measure step continues the numbering"},
       }},
  };
  return steps;
}

std::string Range::describe() const {
  auto num = [](double x) {
    std::ostringstream os;
    os << x;
    return os.str();
  };
  const bool low = std::isfinite(lo), high = std::isfinite(hi);
  if (low && high) return std::string("in ") + (lo_open ? "(" : "[") + num(lo) + ", " + num(hi) + "]";
  if (low) return (lo_open ? "> " : ">= ") + num(lo);
  if (high) return "<= " + num(hi);
  return "finite";
}

Range effective_range(const KeySpec& spec) {
  Range r = spec.range;
  if (spec.type == ValueType::kInt) {
    if (r.lo == -std::numeric_limits<double>::infinity()) r.lo = 0;
    if (r.hi == std::numeric_limits<double>::infinity()) r.hi = range::kInt32Max;
  }
  return r;
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
  os << "| key | type | range | default | meaning |\n|---|---|---|---|---|\n";
  for (const auto& k : keys) {
    const bool numeric = k.type == ValueType::kInt || k.type == ValueType::kFloat || k.type == ValueType::kFloatList;
    os << "| `" << k.key << "` | " << type_name(k.type) << " | " << (numeric ? effective_range(k).describe() : "")
       << " | "
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
