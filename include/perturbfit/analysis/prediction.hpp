// What a fitted model predicts for any perturbation, in the screen or not: the steady state
// of the fitted vector field under the perturbation's condition (FitProblem::
// perturbation_condition), measured as the fit measures (log(eps + S z) plus the batch
// offset), calibrated as the fit calibrates (with fit.shared_response, the training mean
// effect plus what the model predicts beyond a perturbation of no known target), and
// contrasted with the same control profile. For the screen's own groups this is the row
// that fit.h5 holds; for a perturbation nothing of whose targets the model knows it is the
// honest baseline train_mean, flagged.
//
// Uniqueness is tested by solving again from other starts (the control state scaled down
// and up): a perturbed state that Newton reaches from the control state is not the only
// attractor where another start converges elsewhere.
#pragma once
#include <string>
#include <vector>

#include "perturbfit/fit/baselines.hpp"
#include "perturbfit/fit/problem.hpp"
#include "perturbfit/parallel/comm.hpp"

namespace perturbfit::analysis {

struct PredictionQuery {
  std::string label;         // e.g. "A+B"
  std::vector<int> targets;  // model nodes (measured genes, then latent targets)
  int reference = 0;         // the control reference (medium, time): FitProblem::references()
  int control_group = -1;    // a control group (FitProblem::groups()): its batch's offset and profile; -1: none
};

struct PredictedRow {
  std::vector<double> expression;  // measured genes: predicted log(eps + normalised expression)
  std::vector<double> effect;      // expression minus the control profile (same batch's, or the de-noised one)
  bool converged = false;
  bool stable = true;
  double leading_eigenvalue = 0;  // reported where the Gershgorin certificate did not suffice
  bool informative = true;        // false: the model knows nothing of the targets; predicted by train_mean
  int other_starts_converged = 0;
  double start_spread = 0;  // largest |log-expression difference| between the starts' converged states
  bool non_unique = false;  // start_spread above kUniqueTolerance
};

// A protocol other than the screen's, run on the fitted model (`predict --protocol`): cells
// start at the observed control state of the screen's first context; `medium` sets the
// medium inputs, `perturb` switches the row's knockdown on, `equilibrate` moves every cell to
// the steady state reached from where it is (so the order of steps matters wherever the
// model has several attractors). Effects are contrasts with the same protocol run without
// the perturbation. Time steps (evolve) need the time-course fit (issue 13).
struct ProtocolStep {
  enum class Kind { kMedium, kPerturb, kEquilibrate } kind = Kind::kEquilibrate;
  std::string medium;          // kMedium: its name
  std::vector<double> values;  // kMedium: the medium inputs
};
struct PredictionProtocol {
  std::vector<ProtocolStep> steps;
  std::string final_medium() const;
};
// Parses "medium=NAME[:v1,v2,...]; perturb; equilibrate; ..." (steps separated by ';'); a
// medium of the screen takes its fitted inputs, a new one needs its values. UsageError on
// anything else (naming the step), on a protocol that never perturbs or ends without
// equilibrating after the last change.
PredictionProtocol parse_prediction_protocol(const fit::FitProblem& problem, const std::string& text);

// Above the solver's tolerance by orders of magnitude, below any effect worth reporting.
inline constexpr double kUniqueTolerance = 1e-3;

class Predictor {
 public:
  // Collective: the baselines and, with fit.niche = coupled, the niche at the problem's
  // current point (set_point first). other_starts: extra solves per query for uniqueness.
  Predictor(fit::FitProblem& problem, const parallel::Comm& comm, int other_starts);
  // This rank's queries (not collective): one row each, in order.
  std::vector<PredictedRow> predict(const std::vector<PredictionQuery>& queries) const;
  // The same under another protocol (the queries' references and control groups unused;
  // no batch offset, no calibration: the model's own contrast with the control run).
  std::vector<PredictedRow> predict(const std::vector<PredictionQuery>& queries,
                                    const PredictionProtocol& protocol) const;
  // The control profile of a query's context (what its effect is contrasted with).
  std::vector<double> control_profile(const PredictionQuery& q) const;
  // The effect every targeting perturbation shares in a context (control reference): with
  // fit.shared_response what the model predicts for a perturbation of no known target (the
  // training mean effect); else zero.
  std::vector<double> common_effect(int reference) const;

 private:
  model::Condition condition(const PredictionQuery& q) const;
  std::vector<double> measured(const std::vector<double>& x, const PredictionQuery& q) const;
  // Each column from xs: its steady state where times is infinite (batched, as the fit's),
  // else its state at that time of the trajectory from xs (a time-course fit's context).
  std::vector<solvers::SteadyStateReport> solve_columns(const std::vector<const model::Condition*>& conds,
                                                        std::vector<std::vector<double>>& xs,
                                                        const std::vector<const std::vector<double>*>& retry,
                                                        const std::vector<double>& times) const;

  fit::FitProblem& problem_;
  fit::Baselines baselines_;
  int other_starts_ = 0;
};

}  // namespace perturbfit::analysis
