// Held-out evaluation: for every perturbed group, predicted vs observed mean expression and
// effects, for the fitted model and for the baselines of fit/baselines.hpp (control_mean,
// no change, beside them), computed in the same run on the same groups, and the noise
// ceiling "replicate": the mean effect of the same perturbation in the other batches; its
// entries add noise_floor_mse_effect, the error the true effect would have ((B - 1) / B
// times its own, B replicates). Every predictor's effect is its predicted expression minus
// the observed control profile of the group's batch, as the field scores predictors.
// With the shared response the model's prediction is train_mean's plus the model's state
// under the perturbation minus its state under a perturbation with no known target
// (FitProblem::predicted_generic): the common part from the data, the specific part from
// the model. A perturbation the model has no information on (FitProblem::informative) is
// thus predicted as train_mean; such groups are counted in the model's "fallback_groups".
// Metrics per split (train, validation, test, and test by kind of held-out perturbation):
// MSE of expression, MSE of effects, mean Pearson correlation of effects over all genes
// and over the 20 genes with the largest observed effect of each group, and the field's
// metrics (Ahlmann-Eltze, Huber & Anders 2025): L2 distance and Pearson correlation of
// effects over the kTopExpressedGenes genes most expressed in controls.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "perturbfit/fit/problem.hpp"

namespace perturbfit::fit {

inline constexpr std::size_t kTopExpressedGenes = 1000;

// One owned perturbed group's rows for fit.h5.
// The observed profile and both effects are not kept: they follow from the group and its
// control (write_fit derives them), and each is a groups x genes array at genome scale.
struct GroupPrediction {
  int group = 0;
  std::vector<double> predicted;  // G
  bool fallback = false;  // the model knows nothing of the targets: predicted as train_mean
};

// Collective; call after problem.solve_all(). Returns the metrics (identical on all ranks)
// and fills this rank's rows.
nlohmann::json evaluate_predictions(const FitProblem& problem, const parallel::Comm& comm,
                                    std::vector<GroupPrediction>& rows);

// With guide counts: per subset of subset_names(), the predicted vs observed log change of
// every observation's guide share (FitProblem::predicted_abundance): MSE, Pearson r, the
// observations predicted by the fallback, and the MSE of the baselines "no_selection" (0)
// and "train_mean" (the mean change of the training observations). Collective; call after
// problem.solve_all().
nlohmann::json abundance_metrics(FitProblem& problem);

// Predictor names in report order (model, baselines, replicate ceiling), and the subsets.
const std::vector<std::string>& predictor_names();
const std::vector<std::string>& subset_names();

double pearson(const std::vector<double>& a, const std::vector<double>& b);  // NaN if either is constant

}  // namespace perturbfit::fit
