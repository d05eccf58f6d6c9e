// The experiment operator F = F[step_K] o ... o F[step_1] (MODEL.md section 4) applied to
// a weighted population. Population classes (cells sharing guides) are split over ranks in
// contiguous blocks; each rank evolves and equilibrates its own classes. Steps that act on
// the whole population (weights, draws of sequenced cells) are computed identically on
// every rank from gathered class weights, so results do not depend on the rank count.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "perturbfit/core/reporter.hpp"
#include "perturbfit/io/guide_count_table.hpp"
#include "perturbfit/model/generators.hpp"
#include "perturbfit/model/niche.hpp"
#include "perturbfit/model/parameters.hpp"
#include "perturbfit/model/vector_field.hpp"
#include "perturbfit/parallel/comm.hpp"
#include "perturbfit/parallel/decomposition.hpp"
#include "perturbfit/simulate/guide_library.hpp"
#include "perturbfit/simulate/measurement.hpp"
#include "perturbfit/solvers/steady_state_problem.hpp"
#include "perturbfit/simulate/protocol.hpp"

namespace perturbfit::simulate {

struct SimulationSettings {
  std::uint64_t seed = 1;
  solvers::SteadyStateOptions steady;
  int multistart = 4;
  int batch_size = 32;  // 0: SNES per perturbation
  MeasurementOptions measurement;
  model::NicheOptions niche;
  model::CellTypeOptions cell_types;
  bool operator==(const SimulationSettings&) const = default;
};

// Counts of how steady states were reached, summed over ranks.
struct SolveTally {
  std::int64_t solves = 0, batched = 0, newton = 0, fallback = 0, failed = 0, unstable = 0, newton_iterations = 0;
  std::int64_t ode_integrations = 0, ode_steps = 0;
  nlohmann::json to_json() const;
};

// One measure step's draw: the class of every sequenced cell (all ranks hold it) and the
// latent states of this rank's classes at that moment.
// The latent states of a rank's classes, one G-vector each.
using ClassStates = std::vector<std::vector<double>>;

struct MeasureSnapshot {
  int step_index = 0;
  std::int64_t first_cell_id = 0;        // cell ids of this step are first_cell_id + i
  std::vector<std::int32_t> cell_class;  // class of cell i
  int first_batch = 0, batches = 1;
  double depth = 0.0;
  double time = 0.0;  // since the perturbation; inf after equilibrate
  std::string medium;
  bool before_perturbation = false;               // cells are all of the single class "unperturbed"
  parallel::Range owned;                          // classes whose cells this rank measures
  // [class - owned.begin][gene]; shared with the simulation until it next changes them (at
  // genome scale a copy is 0.75 GiB per rank)
  std::shared_ptr<const ClassStates> owned_states = std::make_shared<const ClassStates>();
  std::vector<int> class_animal;                  // after a transplant: the animal of every class, which is the batch
  int batch_of(std::size_t cell) const {
    if (!class_animal.empty()) return first_batch + class_animal[static_cast<std::size_t>(cell_class[cell])];
    return first_batch + static_cast<int>(cell * static_cast<std::size_t>(batches) / cell_class.size());
  }
};

class Simulation {
 public:
  Simulation(parallel::Comm comm, model::ModelParameters params, SimulationSettings settings, const Reporter& reporter);
  ~Simulation();

  // Checks the whole protocol before running any of it (UsageError naming the step).
  void validate(const Protocol& protocol) const;
  void run(const Protocol& protocol);

  const model::ModelParameters& params() const { return params_; }
  const std::vector<PopulationClass>& classes() const { return classes_; }
  parallel::Range owned() const { return owned_; }
  std::vector<double> gather_states() const;  // classes x G, on every rank (for tests, small screens)
  const std::vector<MeasureSnapshot>& snapshots() const { return snapshots_; }
  // Every count_guides sample's rows (batch: "animal<a>" or "population"), all ranks.
  const std::vector<io::GuideCountRow>& guide_counts() const { return guide_counts_; }
  const std::vector<std::string>& batch_names() const { return batch_names_; }
  const std::vector<double>& control_state() const { return control_state_; }
  const std::vector<std::vector<double>>& control_attractors() const { return attractors_; }
  const MeasurementModel& measurement() const { return *measurement_; }
  const SolveTally& tally() const { return tally_; }
  // The niche (empty coupling unless [niche] draws ligands) and, after a transplant and an
  // equilibrate, each animal's niche factors (animals x K).
  const model::NicheCoupling& niche() const { return niche_; }
  int animals() const { return animals_; }
  const std::vector<double>& niche_factors() const { return niche_factors_; }
  // The deck's medium channels (the cell types' bias channels follow them in params().media).
  int medium_channels() const { return medium_channels_; }
  // Reports of the last equilibrate step after the perturbation, for the owned classes.
  const std::vector<solvers::SteadyStateReport>& owned_reports() const { return reports_; }
  bool has_solve_reports() const { return equilibrated_after_perturbation_; }  // the same on every rank
  const SimulationSettings& settings() const { return settings_; }
  const parallel::Comm& comm() const { return comm_; }

 private:
  void ensure_initial_state(const std::string& where);
  void step_medium(const MediumStep& step);
  void step_perturb(const PerturbStep& step, const std::string& where);
  void step_advance(double dt, const std::string& what);
  void step_equilibrate();
  void step_passage(int cells, int step_index);
  void step_expand_in_niches(double dt);
  void split_cell_types();
  void step_count_guides(const CountGuidesStep& step, int step_index);
  void step_transplant(const TransplantStep& step, int step_index);
  void equilibrate_niches(const std::vector<model::Condition>& conds, std::vector<solvers::SteadyStateReport>& reports);
  void step_measure(const MeasureStep& step, int step_index);
  std::vector<double> gathered_log_weights() const;
  model::Condition condition_of(std::size_t cls) const;
  void reduce_tally(const SolveTally& local);

  parallel::Comm comm_;
  model::ModelParameters params_;
  model::VectorField field_;
  SimulationSettings settings_;
  const Reporter& reporter_;
  std::unique_ptr<solvers::SteadyStateProblem> steady_;
  std::unique_ptr<solvers::OdeIntegrator> ode_;
  std::unique_ptr<MeasurementModel> measurement_;

  int medium_channels_ = 0;  // the deck's K; cell types' bias channels follow (params_.media)
  std::vector<double> medium_;
  std::string medium_name_ = "none";
  bool medium_set_ = false;
  bool initialised_ = false;
  bool perturbed_ = false;
  double tau_ = 0.0;
  double time_since_perturbation_ = 0.0;
  std::vector<PopulationClass> classes_;
  parallel::Range owned_;
  std::shared_ptr<ClassStates> states_ = std::make_shared<ClassStates>();  // owned classes only
  const ClassStates& states() const { return *states_; }
  // Copy on write: a measure step's snapshot shares the states it saw.
  ClassStates& writable_states() {
    if (states_.use_count() > 1) states_ = std::make_shared<ClassStates>(*states_);
    return *states_;
  }
  std::vector<double> owned_log_weights_;
  std::vector<double> control_state_;
  std::vector<std::vector<double>> attractors_;
  std::vector<MeasureSnapshot> snapshots_;
  std::vector<io::GuideCountRow> guide_counts_;
  double elapsed_ = 0.0;  // protocol time (evolve and expand)
  std::vector<std::string> batch_names_;
  std::int64_t cells_drawn_ = 0;
  SolveTally tally_;
  std::vector<solvers::SteadyStateReport> reports_;
  bool equilibrated_after_perturbation_ = false;
  model::NicheCoupling niche_;
  int animals_ = 0;                    // 0 until a transplant step
  std::vector<double> niche_factors_;  // animals x K
};

}  // namespace perturbfit::simulate
