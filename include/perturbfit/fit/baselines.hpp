// Baseline predictors of a perturbed group's effect (log scale, contrast with the same
// batch's controls), estimated from the training groups of a FitProblem; they need no
// mechanistic model and are what the model must beat (docs/real_screens.md):
//   train_mean  the mean training effect in the group's context (medium, time): knows
//               nothing of the target; strong where perturbations share a response;
//   additive    combinations whose singles were all in training: the sum of the singles'
//               mean training effects;
//   linear      each gene's effect regressed on the target gene's own effect over the
//               training groups (marginal linear response), times the mean on-target
//               effect; needs measured targets. Its covariances are a targets x genes
//               table (0.5 GB at genome scale): for_each_linear forms it a block of
//               targets at a time and hands out each group's prediction as it completes;
//   pca_linear  the linear baseline of Ahlmann-Eltze, Huber & Anders (2025): genes
//               embedded by the top K = 10 principal components G of the training effects
//               (centred per context), a perturbation by the sum of its targets' rows of
//               G, and effect = b + G W p with W = (G^T G + l I)^-1 G^T Y P (P^T P + l I)^-1,
//               l = 0.1; singles and combinations alike; needs measured targets.
// The principal components come from a subspace iteration over the distributed groups:
// never a G x G matrix, never all training profiles on one rank.
#pragma once
#include <functional>
#include <map>
#include <vector>

#include "perturbfit/fit/problem.hpp"

namespace perturbfit::fit {

class Baselines {
 public:
  // Collective over comm; every rank holds the same estimates.
  Baselines(const FitProblem& problem, const parallel::Comm& comm);
  // Each returns the predicted effect (G values), or an empty vector where the baseline
  // cannot predict this group.
  std::vector<double> train_mean(const ObservedGroup& o) const { return train_mean(o.reference); }
  std::vector<double> train_mean(int reference) const;  // the mean training effect of a control reference
  std::vector<double> additive(const ObservedGroup& o) const;
  // The linear baseline of each of `groups` (this rank's) it can predict, as
  // each(group, effect), in no particular order. Collective over comm (every rank calls it,
  // with its own groups): the covariances of kTargetsPerBlock targets at a time are reduced,
  // never the whole targets x genes table.
  void for_each_linear(const parallel::Comm& comm, const std::vector<const ObservedGroup*>& groups,
                       const std::function<void(const ObservedGroup&, const std::vector<double>&)>& each,
                       std::size_t targets_per_block = kTargetsPerBlock) const;
  std::vector<double> pca_linear(const ObservedGroup& o) const;

  static constexpr int kComponents = 10;
  static constexpr double kRidge = 0.1;
  static constexpr std::size_t kTargetsPerBlock = 64;  // 10 MB of covariances at 20,000 genes

 private:
  bool all_measured(const std::vector<int>& targets) const;
  void estimate_means_and_linear(const parallel::Comm& comm);
  void estimate_pca_linear(const parallel::Comm& comm);

  const FitProblem& problem_;
  std::size_t G_ = 0;
  std::vector<int> targets_;                       // targets of held-out perturbations and of combinations
  std::map<int, std::size_t> index_;               // target -> its index in targets_
  std::map<int, std::size_t> single_index_;        // target of a combination -> row of single_sum_
  std::vector<double> single_sum_, single_count_;  // per combination target: its singles' training effects
  std::vector<double> target_sum_, target_sq_, gene_sum_;
  double groups_ = 0, on_target_ = 0;
  std::vector<double> context_sum_, context_count_;  // per control reference: training effects
  int components_ = 0;
  std::vector<double> embedding_;  // G x components_, orthonormal columns
  std::vector<double> weights_;    // components_ x components_
};

// The effect of a group: its profile minus its own batch's control profile.
std::vector<double> observed_effect(const FitProblem& problem, const ObservedGroup& o);

}  // namespace perturbfit::fit
