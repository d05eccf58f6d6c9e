// Held-out evaluation (issue 5): for every perturbed group, predicted vs observed mean
// expression and effects (contrast with the same batch's controls), for the fitted model
// and for baselines computed in the same run on the same groups:
//   control_mean  no change: the same-batch control profile;
//   train_mean    the mean effect of all training perturbations (knows nothing of the target);
//   additive      combinations only: the sum of the training effects of their singles;
//   linear        each gene's effect regressed on the target gene's own effect over the
//                 training groups (marginal linear response), times the mean on-target
//                 effect seen in training; needs no mechanistic model, but a measured target;
//   replicate     the noise ceiling: the mean effect of the same perturbation in the other
//                 batches; its entries add noise_floor_mse_effect, the error the true
//                 effect would have ((B - 1) / B times its own, B replicates).
// Metrics per split (train, validation, test, and test by kind of held-out perturbation):
// MSE of expression, MSE of effects, mean Pearson correlation of effects over all genes
// and over the 20 genes with the largest observed effect of each group.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "perturbfit/fit/problem.hpp"

namespace perturbfit::fit {

// One owned perturbed group's rows for fit.h5.
struct GroupPrediction {
  int group = 0;
  std::vector<double> observed, predicted, observed_effect, predicted_effect;  // G each
};

// Collective; call after problem.solve_all(). Returns the metrics (identical on all ranks)
// and fills this rank's rows.
nlohmann::json evaluate_predictions(const FitProblem& problem, const parallel::Comm& comm,
                                    std::vector<GroupPrediction>& rows);

// Predictor names in report order (model, baselines, replicate ceiling), and the subsets.
const std::vector<std::string>& predictor_names();
const std::vector<std::string>& subset_names();

double pearson(const std::vector<double>& a, const std::vector<double>& b);  // NaN if either is constant

}  // namespace perturbfit::fit
