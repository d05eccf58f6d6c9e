// The fitting problem of MODEL.md section 8 on one screen: observed pseudo-bulk groups, the
// model whose steady states predict them, and the loss with its adjoint gradient.
//
// Observation of group k (perturbation p, batch b, time t, medium m), per gene g:
//   y_kg = log(eps + mean over the group's cells of y / s)            (pseudo-bulk)
// Prediction:  yhat_kg = log(eps + x*_g(p, m)) + delta_{c(k) g}
// delta: the batch offset, estimated within the batch from its own controls (group c(k):
// same batch, time, medium) as the deviation of their profile from the mean profile of
// all control groups of that time and medium; it uses data only, so every contrast is a
// same-batch contrast (section 9). The de-noised control state of (m, t) is
//   xtilde = exp(mean over its control groups of (y_c - delta_c)) - eps.
// Loss:
//   L = sum_k n_k/N * mean_g (yhat_kg - y_kg)^2                       training groups + controls
//     + lambda_ss * sum_(m,t) w_mt * mean_g (f_g(xtilde; m, 0) / (eps + xtilde_g))^2   (measured g)
//     + lambda_l1 * sum_e (sqrt(W_e^2 + s^2) - s) + lambda_l2 * ||(W, U, c, A, B, C, d)||^2
// The steady-state term is made dimensionless by the state so that its weight does not
// depend on sequencing depth. Latent nodes (targets not in var) are not observed: the
// data term sees the measured genes only, and in the steady-state term they take their
// value from the model's control steady state. Parameters: the model's (pack_parameters
// order) followed by one guide efficiency kappa shared by every target.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "perturbfit/core/reporter.hpp"
#include "perturbfit/data/screen_data.hpp"
#include "perturbfit/fit/options.hpp"
#include "perturbfit/fit/splits.hpp"
#include "perturbfit/model/vector_field.hpp"
#include "perturbfit/parallel/comm.hpp"

namespace perturbfit::fit {

struct LossValue {
  double total = 0, data = 0, steady_state = 0, l1 = 0, l2 = 0;
  std::int64_t failed_steady_states = 0;  // dropped from this evaluation (all ranks)
  std::int64_t steady_states = 0;         // solved (all ranks)
  std::int64_t fallbacks = 0;             // needed PETSc SNES after the batched solver
  std::int64_t adjoint_iterations = 0;
};

// One group held by this rank, with its observation.
struct ObservedGroup {
  int group = 0;         // id in ScreenData::groups()
  int perturbation = 0;
  int batch = 0;
  int condition = -1;    // index into conditions(); -1: excluded
  int control = -1;      // index into control_groups()
  int reference = -1;    // index into the (medium, time) control references
  double cells = 0;
  Split split = Split::kTrain;
  bool owned = false;    // counted on this rank (controls are held by every rank, owned by one)
  std::vector<double> y; // G
  std::vector<double> delta;  // G; control groups only: the batch offset of their batch
};

struct ControlReference {  // one per (medium, time) of the control groups
  int medium = 0, time = 0;
  double cells = 0;
  int condition = -1;
  std::vector<double> xtilde;  // de-noised observed control state
};

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
  void set_point(const std::vector<double>& theta);  // parameters and kappa from theta
  double kappa() const { return kappa_; }
  // Steady-state solves start from the last solution of the same condition (fast); this
  // restarts them from the observed control state, as a fresh process does, so that a run
  // restarted from a checkpoint retraces the uninterrupted one bit for bit.
  void reset_warm_starts();

  // Loss (and gradient if non-null) at theta, over the training groups of the selected
  // batches (empty: all) plus their controls. Collective; identical on every rank.
  LossValue evaluate(const std::vector<double>& theta, std::vector<double>* gradient,
                     const std::vector<int>& batches = {});

  // Steady states of every condition held here (all splits) at the current point, for
  // predictions; returns the number that failed. Collective.
  std::int64_t solve_all(bool check_stability);
  // Prediction of a held group at the last solve_all (log scale, G values); empty if its
  // steady state failed.
  std::vector<double> predict(const ObservedGroup& g) const;
  // log(eps + x*) of the control condition of a group's medium.
  std::vector<double> predicted_control(const ObservedGroup& g) const;

  const std::vector<ObservedGroup>& groups() const { return groups_; }
  const ObservedGroup& control_group(int index) const { return groups_[static_cast<std::size_t>(index)]; }
  const std::vector<ControlReference>& references() const { return references_; }
  const std::vector<Split>& splits() const { return splits_; }
  const data::ScreenData& data() const { return data_; }
  const FitOptions& options() const { return opt_; }
  int measured_genes() const { return static_cast<int>(data_.genes().size()); }  // observed: the first nodes
  int nodes() const { return params_.genes; }  // measured genes, then latent nodes

  struct ConditionState {
    model::Condition condition;
    int perturbation = 0;
    bool control = false;
    int reference = 0;             // control reference of its medium: the cold start
    std::vector<double> x;         // last steady state (warm start of the next solve)
    bool solved = false;           // x is a steady state of the current point
    bool stable = true;
    double leading_eigenvalue = 0;
    std::string method;
    int newton_iterations = 0;
  };
  const std::vector<ConditionState>& conditions() const { return conditions_; }

 private:
  void build_groups(const std::vector<std::vector<double>>& media);
  void initialise_parameters();
  // Latent nodes x measured genes: sum over training groups that knock the node down of the
  // |effect| (contrast with same-batch controls) of each gene; replicated. Collective.
  std::vector<double> latent_response() const;
  // Solves the listed conditions at the current point (batched, then SNES); returns failures.
  std::int64_t solve(const std::vector<int>& which, LossValue* tally, bool check_stability);
  // lambda_ss * residual of the observed control states of the references in `used`.
  void steady_state_term(const std::vector<char>& used, LossValue& value, std::vector<double>* gradient) const;
  void regularisers(LossValue& value, std::vector<double>* gradient) const;

  parallel::Comm comm_;
  const data::ScreenData& data_;
  FitOptions opt_;
  const Reporter& reporter_;
  std::vector<Split> splits_;
  std::vector<ObservedGroup> groups_;
  std::vector<ControlReference> references_;
  std::vector<ConditionState> conditions_;
  model::ModelParameters params_;
  double kappa_ = 0.8;
  std::unique_ptr<model::VectorField> field_;
};

}  // namespace perturbfit::fit
