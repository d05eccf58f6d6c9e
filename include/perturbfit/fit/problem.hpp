// The fitting problem of MODEL.md section 8 on one screen: observed pseudo-bulk groups, the
// model whose steady states predict them, and the loss with its adjoint gradient.
//
// Observation of group k (perturbation p, batch b, time t, medium m), per gene g:
//   y_kg = log(eps + mean over the group's cells of y / s)            (pseudo-bulk)
// Prediction:  yhat_kg = log(eps + S_g z*_g(p, m)) + delta_{c(k) g}
// The model's state z is dimensionless: S_g is gene g's observed control level (the mean
// over the control references), so z = 1 is "as in controls" for every gene, whether it is
// measured at 0.01 or 100 counts per cell. Without it a regulator's weight would have to
// scale with 1 / its expression level (weights of 100 for a lowly expressed target, which
// the optimiser never reaches from W = 0: the model learned no effect on real screens).
// Latent nodes and the shared-response node have S = 1.
// delta: the batch offset, estimated within the batch from its own controls (group c(k):
// same batch, time, medium) as the deviation of their profile from the mean profile of
// all control groups of that time and medium; it uses data only, so every contrast is a
// same-batch contrast (section 9). The de-noised control state of (m, t) is
//   xtilde = exp(mean over its control groups of (y_c - delta_c)) - eps,  ztilde = xtilde / S.
// Loss:
//   L = sum_k n_k/N * mean_g (yhat_kg - y_kg)^2                       training groups + controls
//       (data.likelihood = nb: 1/N sum over their cells i of mean_g -log ZINB(y_ig; s_i exp(delta) S_g z_g, r_g, pi_g):
//        problem_counts.cpp)
//     + lambda_ss * sum_(m,t) w_mt * mean_g (f_g(ztilde; m, 0) / (eps / S_g + ztilde_g))^2   (measured g)
//     + (lambda_abundance / G) * sum_o w_o (dt_o phi . (z_p - z_control) - y_o)^2   (guide counts: problem_abundance.cpp)
//     + lambda_l1 * sum_e (sqrt(W_e^2 + s^2) - s) + lambda_l2 * ||(W, U, c, A, B, C, d)||^2
// The steady-state term is made dimensionless by the state so that its weight does not
// depend on sequencing depth. Latent nodes (targets not in var) are not observed: the
// data term sees the measured genes only, and in the steady-state term they take their
// value from the model's control steady state. Optimisation variables theta: the model's
// parameters (pack_parameters order) with c replaced by c-bar = c + W 1, the activation
// when every node is at its control level (z = 1), followed by one guide efficiency kappa
// shared by every target, then with fit.niche = coupled the niche coupling Gamma
// (problem_niche.cpp: each animal's groups coupled through their niche), then with guide
// counts the fitness weights phi. In (W, c) a weight shifts every group's level, and the
// intercept must undo it; in (W, c-bar) it moves only the groups where its regulator
// differs from its control level: the effects, decoupled from the levels.
//
// Nodes: the G measured genes, then the latent targets (targets not in var), then, with
// fit.shared_response, one node per medium that every targeting guide knocks down in that
// medium by a fixed kSharedKnock: the common response of cells to carrying a targeting
// guide (cutting, stress, selection; it may differ between media), which the model learns
// through the node's out-weights and applies to every perturbation, seen or not.
#pragma once
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "perturbfit/core/reporter.hpp"
#include "perturbfit/data/screen_data.hpp"
#include "perturbfit/fit/count_likelihood.hpp"
#include "perturbfit/fit/options.hpp"
#include "perturbfit/fit/splits.hpp"
#include "perturbfit/model/niche.hpp"
#include "perturbfit/model/vector_field.hpp"
#include "perturbfit/parallel/comm.hpp"
#include "perturbfit/solvers/adjoint.hpp"

namespace perturbfit::fit {

struct LossValue {
  double total = 0, data = 0, steady_state = 0, abundance = 0, l1 = 0, l2 = 0;
  std::int64_t failed_steady_states = 0;  // dropped from this evaluation (all ranks)
  std::int64_t steady_states = 0;         // solved (all ranks)
  std::int64_t fallbacks = 0;             // needed PETSc SNES after the batched solver
  std::int64_t adjoint_iterations = 0;
  std::int64_t time_courses = 0;          // trajectories integrated (all ranks)
};

// One group held by this rank, with its observation.
struct ObservedGroup {
  int group = 0;  // id in ScreenData::groups()
  int perturbation = 0;
  int batch = 0;
  int condition = -1;  // index into conditions(); -1: excluded
  int control = -1;    // index into control_groups()
  int reference = -1;  // index into the (medium, time) control references
  int generic = -1;    // condition of the shared knock alone in the group's context (predicted_generic)
  double time = std::numeric_limits<double>::infinity();  // time-course fits: its time; infinity: a steady state
  double cells = 0;
  Split split = Split::kTrain;
  // At a time of fit.heldout_times: in no loss and no baseline, every split; evaluated as
  // "later times" (extrapolation in time).
  bool heldout_time = false;
  bool owned = false;         // counted on this rank (controls are held by every rank, owned by one)
  std::span<const double> y;  // G: log(eps + mean of y / s), a row of FitProblem's observed-means block
  std::vector<double> delta;  // G; control groups only: the batch offset of their batch
};

struct ControlReference {  // one per (medium, time) of the control groups
  int medium = 0, time = 0;
  int control_perturbation = 0;  // the control perturbation of its first control group
  double cells = 0;
  int condition = -1;
  int generic = -1;           // condition of a perturbation with no known target (the shared knock only)
  std::vector<double> level;  // measured genes: de-noised observed control expression (normalised counts)
  std::vector<double> state;  // every node: the same in model units (level / S; 1 for unobserved nodes)
};

// theta: the model's parameters (model::ParameterLayout; c-bar in place of c), then kappa,
// then (fit.niche = coupled) the niche coupling Gamma, K x L row-major, then (with guide
// counts) the fitness weights phi, one per node.
// With data.likelihood = nb, then log r_g, the NB size of each measured gene, and with
// fit.zero_inflation logit pi_g, its dropout (problem_counts.cpp).
struct ThetaLayout : model::ParameterLayout {
  std::size_t kappa, coupling, fitness, log_size, logit_dropout;
  ThetaLayout(const model::ModelParameters& p, std::size_t coupling_size, std::size_t fitness_size,
              std::size_t size_genes = 0, std::size_t dropout_genes = 0)
      : model::ParameterLayout(p),
        kappa(size),
        coupling(size + 1),
        fitness(size + 1 + coupling_size),
        log_size(fitness + fitness_size),
        logit_dropout(log_size + size_genes) {
    size = logit_dropout + dropout_genes;
  }
};

// One guide-abundance observation (data::AbundanceObservation) of a perturbation this rank
// owns, tied to the steady states that predict it: y = dt phi . (z[condition] - z_control).
struct AbundanceTerm {
  int observation = 0;  // index in ScreenData::abundance()
  int condition = -1;   // the perturbation's condition in the series' context
  int control = 0;      // index of the series' control state (FitProblem::abundance_controls)
  int batch = -1;
  Split split = Split::kTrain;
  double weight = 0;  // training terms: (1/v) / sum over all training terms of 1/v
};

// The knockdown of the shared-response node by any targeting guide: fixed, because only its
// product with the node's out-weights is identifiable.
inline constexpr double kSharedKnock = 0.5;

class FitProblem {
 public:
  // Collective. The support pattern of W is built here (options.support).
  FitProblem(const parallel::Comm& comm, const data::ScreenData& data, const FitOptions& options,
             std::vector<std::vector<double>> media, const Reporter& reporter);
  ~FitProblem();

  const model::ModelParameters& parameters() const { return params_; }
  std::size_t size() const;  // number of optimisation variables
  std::vector<double> initial_point() const;
  void bounds(std::vector<double>& lower, std::vector<double>& upper) const;
  // Scale D of each optimisation variable for quasi-Newton methods (which then work on
  // theta / D), fixed at the initial point: see problem_scaling.cpp.
  const std::vector<double>& variable_scale() const { return variable_scale_; }
  void set_point(const std::vector<double>& theta);  // parameters and kappa from theta
  double kappa() const { return kappa_; }
  // Steady-state solves start from the last solution of the same condition (fast); this
  // restarts them from the observed control state, as a fresh process does, so that a run
  // restarted from a checkpoint retraces the uninterrupted one bit for bit.
  void reset_warm_starts();
  // Where each steady-state solve starts. kLastSolution: from the condition's last solution
  // (Adam, TAO). kAnchored: from the solutions at the last accepted iterate (lbfgs): the
  // optimiser calls keep_candidate() after each trial that becomes the best of its line
  // search and accept_candidate() when it takes the step, so every trial starts from the
  // same states. Otherwise one far trial can carry the warm starts onto another attractor
  // of a multistable model, and the loss at the current point is no longer what it was
  // (the line search then fails on a discontinuity that the warm starts made).
  enum class WarmStart { kLastSolution, kAnchored };
  void set_warm_start(WarmStart mode) { warm_start_ = mode; }
  void keep_candidate();
  void accept_candidate();
  // Frees the warm starts and kept states (two G-vectors per condition) once no more
  // iterations follow; later solves start from each condition's last solution.
  void release_warm_starts();

  // Loss (and gradient if non-null) at theta, over the training groups of the selected
  // batches (empty: all) plus their controls. Collective; identical on every rank.
  LossValue evaluate(const std::vector<double>& theta, std::vector<double>* gradient,
                     const std::vector<int>& batches = {});

  // Whether the model knows anything of what this perturbation's targets do: one of them
  // is measured (its own level is observed, its out-edges are in the support) or is a
  // latent node with out-edges (perturbed in training, or given by a prior). A
  // perturbation of latent targets that nothing trained says nothing about; the model
  // would predict the shared response alone, and the evaluation predicts it by the honest
  // baseline, train_mean, flagged as such.
  bool informative(int perturbation) const;
  bool informative_targets(const std::vector<int>& target_nodes) const;

  // The data term of each validation group at theta (mean over genes of the squared
  // residual; with data.likelihood = nb the mean over its cells and genes of the NLL; NaN
  // where its steady state failed), every rank's groups in rank order, from
  // cold starts so that the values do not depend on earlier solves. Collective.
  std::vector<double> validation_losses(const std::vector<double>& theta);

  // Steady states of every condition held here (all splits) at the current point, for
  // predictions; returns the number that failed. Collective.
  std::int64_t solve_all(bool check_stability);
  // Prediction of a held group at the last solve_all (log scale, G values); empty if its
  // steady state failed.
  std::vector<double> predict(const ObservedGroup& g) const;
  // log(eps + S z*) + delta of a perturbation with no known target in the group's medium (with
  // fit.shared_response: only the shared node knocked down; without: the control state);
  // empty if its steady state failed. What the model predicts beyond the common response
  // is predict(g) minus this.
  std::vector<double> predicted_generic(const ObservedGroup& g) const;

  // The fitted vector field at the current point (set_point).
  const model::VectorField& field() const { return *field_; }
  // How a perturbation of `targets` (model nodes) becomes a condition in the context of
  // control reference `reference`: its targets knocked down by kappa (at the current point),
  // then with fit.shared_response the shared knock of its medium; the reference's medium
  // (with fit.niche = coupled, without any animal's niche). The one definition for the fit's
  // own conditions and for predictions of perturbations the screen does not have.
  model::Condition perturbation_condition(const std::vector<int>& targets, int reference) const;
  // The same in a context's niche: coupled, animal's niche (-1: the mean over the animals)
  // from the last coupled solve added to the medium; control = true: no knock at all.
  model::Condition context_condition(const std::vector<int>& targets, int reference, int animal,
                                     bool control = false) const;

  const std::vector<ObservedGroup>& groups() const { return groups_; }
  const ObservedGroup& control_group(int index) const { return groups_[static_cast<std::size_t>(index)]; }
  const std::vector<ControlReference>& references() const { return references_; }
  const std::vector<Split>& splits() const { return splits_; }
  const data::ScreenData& data() const { return data_; }
  // The layout of theta (the blocks after the model's parameters).
  ThetaLayout layout() const {
    return ThetaLayout(params_, coupling_.gamma.size(), fits_abundance_ ? params_.fitness.size() : 0,
                       nb_size_.size(), nb_dropout_.size());
  }
  // data.likelihood = nb: per measured gene the NB size r_g and (fit.zero_inflation) the
  // dropout pi_g at the current point (empty otherwise).
  bool count_likelihood() const { return opt_.count_likelihood; }
  const std::vector<double>& nb_size() const { return nb_size_; }
  const std::vector<double>& nb_dropout() const { return nb_dropout_; }
  const FitOptions& options() const { return opt_; }
  int measured_genes() const { return static_cast<int>(data_.genes().size()); }  // observed: the first nodes
  int nodes() const { return params_.genes; }  // measured genes, latent targets, shared-response node
  // Shared-response nodes: one per medium, after the latent targets (none without
  // fit.shared_response).
  bool is_shared(int node) const { return node >= first_shared_ && node < first_shared_ + shared_count_; }
  // Names of the nodes after the measured genes (latent targets, then the shared node).
  std::vector<std::string> unmeasured_nodes() const;
  // S: normalised expression of one model unit, per node.
  const std::vector<double>& scale() const { return scale_; }

  struct ConditionState {
    model::Condition condition;
    int perturbation = 0;
    // fit.niche = coupled: the animal (batch) whose niche it sits in; -1: the mean niche
    // over animals (the references' control and generic states). member: a group of cells
    // counted in its animal's niche on this rank (each group on one rank).
    int animal = -1;
    bool member = false;
    double cells = 0;  // a member's population weight: its group's cells
    bool control = false;
    bool generic = false;       // the shared knock only (held on every rank, as controls)
    int reference = 0;          // control reference of its medium: the cold start
    // Time courses: the time since the perturbation at which x is the trajectory's state
    // (infinity: a steady state), and the trajectory (time_courses()) it belongs to.
    double time = std::numeric_limits<double>::infinity();
    int trajectory = -1;
    std::vector<double> x;      // last steady state (or state at `time`)
    // Warm starts, in single precision: only where a solve begins (it converges to its own
    // tolerance from there), and at genome scale each copy in double is 0.75 GiB per rank.
    std::vector<float> start;  // where the next solve starts (kAnchored)
    std::vector<float> kept;   // the best line-search trial's steady state (kAnchored)
    bool solved = false;        // x is a steady state of the current point
    bool stable = true;
    double leading_eigenvalue = 0;
    solvers::SolveMethod method = solvers::SolveMethod::kFailed;
    int newton_iterations = 0;
  };
  const std::vector<ConditionState>& conditions() const { return conditions_; }

  // Time courses (problem_time.cpp). One trajectory per (perturbation, medium) with groups at
  // finite times: integrated from the observed control state of its medium's earliest time
  // (`initial`, a reference) through its members' times (conditions, ascending time).
  struct TimeCourse {
    int initial = -1;
    std::vector<int> members;
  };
  bool time_course() const { return !time_values_.empty(); }
  const std::vector<TimeCourse>& time_courses() const { return time_courses_; }
  // Per time label of the screen: its value in a time-course fit (infinity: a steady state).
  const std::vector<double>& time_values() const { return time_values_; }
  // A reference's time in a time-course fit (infinity: a steady state), and the reference
  // whose observed control state starts its medium's trajectories (-1 if it is steady).
  double reference_time(int reference) const {
    return time_course() ? time_values_[static_cast<std::size_t>(references_[static_cast<std::size_t>(reference)].time)]
                         : std::numeric_limits<double>::infinity();
  }
  int initial_reference(int reference) const {
    return initial_of_reference_.empty() ? -1 : initial_of_reference_[static_cast<std::size_t>(reference)];
  }

  // With data.guide_counts: the fitness weights phi (one per node) at the current point, and
  // every observation's predicted change at the last solve_all (all ranks, in the order of
  // ScreenData::abundance(); NaN where a steady state failed or no condition predicts it).
  // A held-out perturbation with a target that no training single knocks down is predicted
  // by the baseline "no selection" (0) and flagged in `fallback`: its own target's weight, which
  // dominates its change, is then unidentified (docs/in_vivo.md, Selection). Collective.
  bool fits_abundance() const { return fits_abundance_; }
  const std::vector<double>& fitness() const { return params_.fitness; }
  std::vector<double> predicted_abundance(std::vector<char>* fallback = nullptr);
  bool abundance_informed(int perturbation) const;
  Split abundance_split(const data::AbundanceObservation& o) const {
    return splits_[static_cast<std::size_t>(o.perturbation)];
  }

  // fit.niche = coupled: the ligand genes (node indices) and Gamma at the current point
  // (K x L over all K medium channels; the external medium's rows are fixed at 0), and the
  // niche factors of every animal (animals x K) at the last coupled solve.
  bool niche_coupled() const { return opt_.niche; }
  const model::NicheCoupling& coupling() const { return coupling_; }
  const std::vector<double>& niche_factors() const { return niche_.factors; }
  // Per animal det(I - Gamma D_a) at the last coupled solve that checked stability (< 0: the
  // coupled state is a saddle, solvers::NicheReport); empty if none did.
  const std::vector<double>& niche_determinants() const { return niche_determinants_; }
  int external_channels() const { return external_channels_; }

 private:
  void build_groups(const std::vector<std::vector<double>>& media);
  void build_references();
  void build_conditions(const std::vector<std::vector<double>>& media);
  void initialise_parameters();
  std::vector<double> perturbed_levels() const;
  void initialise_shared_response(const std::vector<double>& perturbed);
  // Collective: the diagonal Gauss-Newton scaling at the current (initial) point.
  std::vector<double> diagonal_scaling();
  // Candidate out-edges from the data: for every target node perturbed in training, the
  // fit.target_out_degree measured genes that respond most to it; for the shared node,
  // every measured gene. Collective.
  std::vector<std::pair<int, int>> response_edges() const;
  // Solves the listed conditions at the current point (batched, then SNES); returns failures.
  // With niche (animals x K), each condition sits in its animal's niche (animal -1: the mean).
  std::int64_t solve(const std::vector<int>& which, LossValue* tally, bool check_stability,
                     const std::vector<double>* niche = nullptr);
  std::int64_t solve_steady(const std::vector<int>& which, LossValue* tally, bool check_stability,
                            const std::vector<double>* niche);
  // problem_time.cpp. Which time labels are time points (time_values_; empty: a steady fit),
  // warned and checked against the options; before the groups.
  void setup_times();
  // After the conditions: the trajectories and each medium's initial state.
  void build_time_courses();
  // Integrates the trajectories of the listed (time-course) conditions; returns failures.
  std::int64_t integrate(const std::vector<int>& which, LossValue* tally);
  // The data term's dl/dx of time-course conditions through their trajectories' adjoints
  // into grad; returns kappa's gradient.
  double time_course_gradient(const std::vector<std::vector<double>>& dl_dx, solvers::ParameterGradient& grad);
  // lambda_ss * residual of the observed control states of the references in `used`.
  void steady_state_term(const std::vector<char>& used, LossValue& value, std::vector<double>* gradient) const;
  void regularisers(LossValue& value, std::vector<double>* gradient) const;
  // Collective. Each rank's solves and adjoints are its own, and one may fail where another
  // does not (far from the data, in a line search): the optimiser's search then steps back
  // on every rank only if every rank throws. Throws NumericalError on every rank if
  // `failure` (this rank's message, empty: none) is non-empty on any.
  void agree_on_failure(const std::string& failure) const;
  // dl/dkappa from one condition's knock gradients: its targets' entries (the shared knock is fixed).
  double kappa_gradient(const model::Condition& condition, const std::vector<double>& knock_grad) const;
  // problem_abundance.cpp. The terms of the owned perturbations and the series' controls.
  void setup_abundance();
  // The control state of every series on every rank (from the rank that solves it; NaN if
  // it failed). Collective.
  std::vector<std::vector<double>> exchange_abundance_controls() const;
  // dt phi . (z of the term's condition - control): the predicted change of its guide share.
  double abundance_prediction(const AbundanceTerm& t, const std::vector<double>& control) const;
  // Collective: lambda_abundance x the weighted squared error of the selected training terms
  // into value.abundance; with dl_dx (data term's, unnormalised, summed over `cells` training
  // cells of all ranks) the term's dl/dx added scaled by cells, and dL/dphi x cells into fitness_grad.
  void abundance_term(const std::vector<int>& batches, LossValue& value, std::vector<std::vector<double>>* dl_dx,
                      double cells, std::vector<double>* fitness_grad);
  // problem_counts.cpp. The cells of the owned groups and the initial NB sizes (moments of
  // the control cells; every rank).
  void setup_counts();
  void count_bounds(std::vector<double>& lower, std::vector<double>& upper) const;
  // The group's data term with data.likelihood = nb at state x: its cells' NLL / G; with
  // dx, adds dNLL/dx / G into it and the NB parameters' gradient into size_grad, dropout_grad.
  // The group's Gaussian data term at state x: sum over measured genes of r^2, r = its
  // predicted minus observed log mean; with dx, adds d(n_cells r^2 / G)/dx into it.
  double squared_residual(const ObservedGroup& o, const std::vector<double>& x, double* dx) const;
  double count_term(const ObservedGroup& o, const std::vector<double>& x, std::vector<double>* dx,
                    std::vector<double>* size_grad, std::vector<double>* dropout_grad) const;
  // Per measured gene, the Fisher information of the group's counts about its state z_g at
  // x: sum over cells of (d mu / d z)^2 / Var y = n s-bar E^2 / (m (1 + s-bar m / r)), E =
  // exp(delta) S, m = E z, at the cells' mean size factor s-bar (the diagonal scaling).
  std::vector<double> state_information(const ObservedGroup& o, const std::vector<double>& x) const;
  // This rank's cells (the local CSR and size factors).
  CountMatrix count_matrix() const;
  // The predicted mean of each measured gene in normalised units, exp(delta) S z.
  std::vector<double> predicted_mean(const ObservedGroup& o, const std::vector<double>& x) const;
  // problem_niche.cpp. Ligand genes to nodes and the niche channels (before the conditions).
  void setup_niche(std::size_t external_channels);
  std::vector<double> initial_coupling() const;
  // Collective: the coupled steady state of every member condition and (probes) then of the
  // others in their animal's niche; returns failures over all ranks (every member's if the
  // niche did not converge).
  std::int64_t solve_coupled(LossValue* tally, bool check_stability, bool probes);
  // Collective: the data term's dl/dx per condition (empty: none) through the coupling into
  // grad and the coupling's gradient; kappa's gradient is returned.
  double coupled_gradient(const std::vector<std::vector<double>>& dl_dx, solvers::ParameterGradient& grad,
                          std::vector<double>& coupling_grad);

  parallel::Comm comm_;
  const data::ScreenData& data_;
  FitOptions opt_;
  const Reporter& reporter_;
  std::vector<Split> splits_;
  std::vector<double> observed_means_;  // held groups x G, the rows ObservedGroup::y views
  std::vector<ObservedGroup> groups_;
  std::vector<ControlReference> references_;
  std::vector<ConditionState> conditions_;
  std::vector<double> time_values_;
  std::vector<TimeCourse> time_courses_;
  std::vector<int> initial_of_reference_;  // time courses: per reference, its medium's initial reference
  model::ModelParameters params_;
  double kappa_ = 0.8;
  int first_shared_ = 0, shared_count_ = 0;
  WarmStart warm_start_ = WarmStart::kLastSolution;
  std::vector<double> scale_;
  std::vector<double> variable_scale_;
  std::vector<char> read_;  // per node: some gene's W row reads it (the pattern is fixed)
  std::unique_ptr<model::VectorField> field_;
  model::NicheCoupling coupling_;  // empty unless fit.niche = coupled
  int external_channels_ = 0, niche_channels_ = 0, animals_ = 0;
  // The last coupled solve's niche (animals x K) and its Jacobian estimate: the next solve's
  // start; kAnchored starts from those of the last accepted iterate, kept from the best
  // line-search trial (as the conditions' start and kept states).
  struct NicheState {
    std::vector<double> factors, jacobian;
    bool empty() const { return factors.empty(); }
  };
  NicheState niche_, niche_start_, niche_kept_;
  std::vector<double> niche_determinants_;
  // Guide abundance (phi is params_.fitness, in theta only with guide counts): this rank's
  // terms, and the series' control states (medium, animal).
  struct AbundanceControl {
    int medium = 0, animal = -1;
    int condition = -1;  // on this rank
    bool solver = false;  // this rank solves it (and adds its adjoint right-hand side)
  };
  bool fits_abundance_ = false;
  std::vector<char> trained_single_target_;  // per node: the target of a training single
  std::vector<AbundanceTerm> abundance_terms_;
  std::vector<AbundanceControl> abundance_controls_;
  // data.likelihood = nb: the owned groups' cells; the NB sizes and dropouts at the current point.
  GroupCells cells_;
  std::vector<double> nb_size_, nb_dropout_;
};

}  // namespace perturbfit::fit
