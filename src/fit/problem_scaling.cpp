// The diagonal scaling of the optimisation variables: a Jacobi preconditioner of the
// Gauss-Newton Hessian of the data term, estimated once at the initial point.
//
// Why: the curvature of the loss along a parameter is the cell-weighted sum over the groups
// it moves of (d yhat / d theta)^2. It spans orders of magnitude on a real screen: a gene's
// level parameters see every group, the out-weight of one target only the few groups that
// knock it down (a 1/40 of the cells on a 20-target screen); and d yhat / d z =
// S / (eps + S z) is ~1 for a well-measured gene but ~S / eps for one measured far below the
// pseudocount. A quasi-Newton method started from a scaled identity then spends hundreds of
// iterations on the level parameters before the effects move (the model learned nothing on
// real screens). Working on theta / D with D_i = 1 / sqrt(H_ii) equalises them.
//
// At the initial point the other nodes' weights are zero (the shared response has no
// in-edges), so each parameter of gene g's row acts on yhat_kg alone, through
//   dz_g = (1 - kappa_g) sigma(s) dv + dbeta + a (dc + sum_k m_k dU_k + sum_j (z_j - 1) dW_gj),
//   a = (1 - kappa_g) v sigma'(s),  (W in c-bar coordinates: c-bar = c + W 1)
// and H_ii = sum over the loss's groups k of 2 n_k / (N G) (rho_gk dz_g/dtheta_i)^2,
// rho_gk = S_g / (eps + S_g z_gk). With data.likelihood = nb, n_k rho_gk^2 is the Fisher
// information of the group's counts about z_gk instead (state_information), and the NB
// sizes and dropouts take their empirical information over the training cells. Parameters the data do not see directly here (the rows of
// unobserved nodes, kappa, the neural correction, phi) keep D = 1. (phi scaled by the
// abundance term's curvature was tried: the selection study's fits then spent their
// iterations on phi, and both the expression and the guide-change errors rose.) D is normalised by the median
// over the genes' basal productions and capped at 100, so no variable is scaled up without
// bound where the data see little of it.
#include <algorithm>
#include <cmath>
#include <limits>

#include "perturbfit/fit/problem.hpp"

namespace perturbfit::fit {

std::vector<double> FitProblem::diagonal_scaling() {
  const ThetaLayout L = layout();
  const auto& p = params_;
  const auto G = static_cast<std::size_t>(measured_genes()), K = static_cast<std::size_t>(p.media);
  const double eps = opt_.pseudocount;
  std::vector<int> which;
  std::vector<char> needed(conditions_.size(), 0);
  for (const auto& o : groups_)
    if (o.owned && o.split == Split::kTrain && o.condition >= 0) needed[static_cast<std::size_t>(o.condition)] = 1;
  for (std::size_t i = 0; i < needed.size(); ++i)
    if (needed[i]) which.push_back(static_cast<int>(i));
  if (opt_.niche)
    solve_coupled(nullptr, false, false);
  else
    solve(which, nullptr, false);
  std::vector<double> H(L.size, 0.0), s, factor, count_fisher;
  double cells = 0;
  for (const auto& o : groups_) {
    if (!o.owned || o.split != Split::kTrain || o.condition < 0) continue;
    const auto& c = conditions_[static_cast<std::size_t>(o.condition)];
    if (!c.solved) continue;
    cells += o.cells;
    const std::vector<const model::Condition*> one{&c.condition};
    field_->batch_inputs(c.x.data(), 1, one, c.time, s, factor);  // a time course: its onset at its time
    if (opt_.count_likelihood) {
      count_fisher = state_information(o, c.x);
      // The NB parameters act on the counts directly: their own (empirical) information.
      const auto m = predicted_mean(o, c.x);
      CountGradient info(G);
      fit::count_information(count_matrix(), cells_.of(o.group), G, m.data(), nb_size_.data(),
                             nb_dropout_.empty() ? nullptr : nb_dropout_.data(), info);
      for (std::size_t g = 0; g < G; ++g) {
        H[L.log_size + g] += info.log_size[g];
        if (!nb_dropout_.empty()) H[L.logit_dropout + g] += info.logit_dropout[g];
      }
    }
    for (std::size_t g = 0; g < G; ++g) {
      const double z = c.x[g], rho = scale_[g] / (eps + scale_[g] * z);
      const double w = opt_.count_likelihood ? count_fisher[g] : o.cells * rho * rho;
      const double sig = model::logistic(s[g]), a = factor[g] * p.v[g] * sig * (1.0 - sig);
      H[L.v + g] += w * factor[g] * sig * factor[g] * sig;
      H[L.beta + g] += w;
      H[L.gamma + g] += w * z * z;
      H[L.c + g] += w * a * a;
      for (std::size_t k = 0; k < K && k < c.condition.medium.size(); ++k) {
        H[L.U + g * K + k] += w * a * a * c.condition.medium[k] * c.condition.medium[k];
        const double dq = factor[g] * p.v[g] * sig * c.condition.medium[k];  // df/dQ_gk
        if (!p.Q.empty()) H[L.Q + g * K + k] += w * dq * dq;
      }
      for (auto e = p.W.row_ptr[g]; e < p.W.row_ptr[g + 1]; ++e) {
        const double dz = c.x[static_cast<std::size_t>(p.W.col[static_cast<std::size_t>(e)])] - 1.0;
        H[L.W + static_cast<std::size_t>(e)] += w * a * a * dz * dz;
      }
    }
  }
  H.push_back(cells);
  comm_.replicated_sum_in_place(H);
  H.pop_back();  // the common factor 2 / (N G) cancels in the normalisation below
  std::vector<double> basal(H.begin() + static_cast<long>(L.beta), H.begin() + static_cast<long>(L.beta + G));
  std::nth_element(basal.begin(), basal.begin() + static_cast<long>(G / 2), basal.end());
  const double reference = basal[G / 2];
  std::vector<double> D(L.size, 1.0);
  if (!(reference > 0)) return D;
  auto set = [&](std::size_t i) { D[i] = std::min(100.0, std::sqrt(reference / std::max(H[i], 1e-300))); };
  for (std::size_t g = 0; g < G; ++g) {
    set(L.v + g), set(L.beta + g), set(L.c + g);
    if (opt_.fit_decay) set(L.gamma + g);
    // The niche channels are 0 in c.condition (the niche is added per solve): D = 1 there.
    for (std::size_t k = 0; k < static_cast<std::size_t>(p.media - (opt_.niche ? niche_channels_ : 0)); ++k) {
      set(L.U + g * K + k);
      if (!p.Q.empty()) set(L.Q + g * K + k);
    }
    for (auto e = p.W.row_ptr[g]; e < p.W.row_ptr[g + 1]; ++e) set(L.W + static_cast<std::size_t>(e));
    if (opt_.count_likelihood) set(L.log_size + g);
    if (!nb_dropout_.empty()) set(L.logit_dropout + g);
  }
  return D;
}

}  // namespace perturbfit::fit
