// Early stopping on the validation perturbations, the guard of what the fit predicts for
// perturbations it has not seen: every fit.validation_every iterations the data term of
// each validation group is computed (FitProblem::validation_losses).
//  - best: the iterate of lowest mean validation loss;
//  - selected: the latest iterate whose validation loss is not worse than the best's by
//    more than its standard error, paired over the same groups (mean of the differences
//    <= their standard deviation / sqrt(groups)): held-out data cannot tell it from the
//    best, and it explains more of the training data. The fit reports the selected one.
//  - the fit stops when the best has not improved for fit.validation_patience checks.
// Part of the optimiser state, so a run restarted from a checkpoint decides the same.
#pragma once
#include <limits>
#include <vector>

namespace perturbfit::fit {

struct EarlyStopping {
  double best = std::numeric_limits<double>::infinity();
  int best_iteration = -1;
  std::vector<double> best_groups;  // per validation group at the best iterate
  int selected_iteration = -1;
  std::vector<double> selected_theta;
  int checks_since_best = 0;

  // Records the validation losses of the iterate (NaN: a group whose steady state failed);
  // returns true when the patience is exhausted.
  bool record(int iteration, const std::vector<double>& theta, const std::vector<double>& group_losses, int patience);
  bool active() const { return selected_iteration >= 0; }
};

}  // namespace perturbfit::fit
