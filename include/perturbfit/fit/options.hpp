// What `perturbfit fit` does, read from the deck's [fit], [model], [solver] and [run]
// sections (the schema in src/config/schema.cpp documents every key).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "perturbfit/config/schema.hpp"
#include "perturbfit/config/deck.hpp"
#include "perturbfit/model/parameters.hpp"
#include "perturbfit/solvers/steady_state.hpp"
#include "perturbfit/solvers/trajectory.hpp"

namespace perturbfit::fit {

enum class Optimizer { kLbfgs, kTao, kAdam };
const char* to_string(Optimizer o);

// [solver]'s defaults but fit.steady_atol (tighter, for gradients), and no stability test:
// that is made once, on the fitted model, not at every evaluation.
inline solvers::SteadyStateOptions fit_steady_state_defaults() {
  solvers::SteadyStateOptions o;
  o.atol = 1e-10;
  o.stability = solvers::StabilityMode::kSkip;
  return o;
}

struct FitOptions {
  model::ModelKind kind = model::ModelKind::kMechanistic;
  int neural_rank = 0;
  std::string support = "auto";
  int all_max_genes = 500;
  std::filesystem::path edge_list;
  int knn = 10;
  int target_out_degree = 100;
  bool shared_response = true;
  double validation_fraction = 0.1, test_fraction = 0.2;
  std::uint64_t split_seed = 1, seed = 1;
  double pseudocount = 0.1;
  // data.likelihood = nb: the data term is the per-cell (ZI)NB likelihood (count_likelihood.hpp)
  // with one NB size per measured gene (and with zero_inflation one dropout) learned.
  bool count_likelihood = false, zero_inflation = false;
  double lambda_ss = 0.0, lambda_l1 = 3e-4, l1_smoothing = 1e-3, lambda_l2 = 2e-4;
  double lambda_abundance = 1.0;    // with data.guide_counts: the fitness term (problem_abundance.cpp)
  double lambda_fitness_l1 = 0.0;   // its sparsity prior on phi
  double kappa = 0.8, kappa_min = -10.0, kappa_max = 0.999;
  bool learn_kappa = true, fit_decay = false;
  Optimizer optimizer = Optimizer::kLbfgs;
  int lbfgs_memory = 10;
  int max_iterations = 200;
  double gatol = 1e-7, learning_rate = 3e-4;
  int checkpoint_every = 10;
  std::filesystem::path truth;
  int batch_size = 32;  // batched steady-state solver columns
  // The plain steady-state fit's adjoints go chunk by chunk, each chunk's dl/dx (one N-vector
  // per condition) built just before it: this many solver batches per chunk. Not a deck
  // setting: any value gives the same gradient (tests vary it).
  int adjoint_chunk_batches = 16;
  double adjoint_rtol = 1e-10;
  int gradient_directions = 4;
  int validation_every = 5, validation_patience = 10;
  double max_weight = 5.0;
  solvers::SteadyStateOptions steady = fit_steady_state_defaults();
  // fit.niche = "coupled": the in vivo niche of MODEL.md section 7 (animals = batches), with
  // the ligand genes of [niche].ligand_genes and Gamma fitted (fit.niche_channels x L).
  bool niche = false;
  bool batch_offsets = true;  // fit.batch_offsets: false: no batch offset (delta = 0) anywhere
  // fit.production_response (auto: on with data.cell_type_key): each medium channel also
  // scales the maximal production, v exp(Q m) (model::ModelParameters::Q): with one medium per
  // (medium, cell type), each type's own v.
  bool production_response = false;
  std::vector<std::string> ligand_genes;
  int niche_channels = 0;  // 0: one per ligand gene
  // Time courses (fit.dynamics; problem_time.cpp): groups at a finite time are predicted by
  // integrating from the observed control state with the onset tau; labels in steady_times
  // stay steady states. kAuto: time courses when the screen has two or more numeric times.
  enum class Dynamics { kAuto, kSteady, kTimeCourse };
  Dynamics dynamics = Dynamics::kAuto;
  std::vector<std::string> steady_times;
  std::vector<std::string> heldout_times;  // groups at these times: held out of the fit, evaluated apart
  double onset_tau = 0.0;
  bool controls_steady = true;  // the steady-state term on every (medium, time) of controls
  solvers::TrajectoryOptions trajectory;
  bool operator==(const FitOptions&) const = default;
};

FitOptions fit_options(const config::Deck& deck);  // UsageError on inconsistent values

// The deck's [fit] keys, read by fit_options.
config::SectionSpec fit_section();

}  // namespace perturbfit::fit
