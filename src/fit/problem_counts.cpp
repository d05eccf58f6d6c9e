// The per-cell count likelihood (data.likelihood = nb) in the fit: each training cell's
// counts given its group's predicted mean, its size factor and the batch offset,
//   mu_ig = s_i exp(delta_bg) S_g z_g,   y_ig ~ ZINB(mu_ig, r_g, pi_g),
// the same prediction as the Gaussian term's yhat = log(eps + S z) + delta, without the
// pseudocount (which only guards the log of a pseudo-bulk). The cells stay on the rank that
// owns their perturbation (data/screen_distribute.cpp), as the groups do, so the term
// needs no communication beyond the gradient reduction the Gaussian term already makes.
// The data term is a mean over cells and genes of the NLL: the same cell weighting as the
// Gaussian term's n_k / N. r_g and pi_g are learned (theta's last blocks, in log and logit).
#include <algorithm>
#include <cmath>

#include "perturbfit/core/error.hpp"
#include "perturbfit/fit/problem.hpp"

namespace perturbfit::fit {

namespace {
// NB sizes within [1e-2, 1e4]: below, a gene's counts are nearly all zeros or outliers;
// above, the NB is the Poisson to within the precision of the data. Dropouts below 0.98:
// at 1 a gene says nothing and its mean is unidentified.
constexpr double kMinSize = 1e-2, kMaxSize = 1e4, kMaxLogitDropout = 4.0, kMinLogitDropout = -12.0;
// The initial dropout: a small structural-zero rate, from which the data move it.
constexpr double kInitialDropout = 0.01;
// The floor of the predicted mean (normalised units): a gene predicted at exactly 0 would
// make every observed count impossible.
constexpr double kMeanFloor = 1e-10;
}  // namespace

void FitProblem::setup_counts() {
  if (!opt_.count_likelihood) return;
  const auto G = static_cast<std::size_t>(measured_genes());
  std::vector<int> held;
  for (const auto& o : groups_)
    if (o.owned) held.push_back(o.group);
  cells_ = GroupCells(data_, held);
  for (const auto& o : groups_)
    if (o.owned && static_cast<double>(cells_.of(o.group).size()) != o.cells)
      throw std::logic_error("group " + std::to_string(o.group) + " has " + std::to_string(o.cells) +
                             " cells but this rank holds " + std::to_string(cells_.of(o.group).size()));
  // Initial sizes by moments over the control cells: E y = s m, Var y = s m + s^2 m^2 / r,
  // m the group's ratio estimate sum y / sum s; then summed over every control group.
  const CountMatrix counts = count_matrix();
  std::vector<double> excess(G, 0.0), scale(G, 0.0);  // sum (y - s m)^2 - s m, sum s^2 m^2
  for (const auto& o : groups_) {
    if (!o.owned || o.control != static_cast<int>(&o - groups_.data())) continue;
    const auto cells = cells_.of(o.group);
    double s_sum = 0, s2_sum = 0;
    std::vector<double> y_sum(G, 0.0), y2_sum(G, 0.0), sy_sum(G, 0.0);
    for (const auto c : cells) {
      const double s = counts.size_factors[static_cast<std::size_t>(c)];
      s_sum += s, s2_sum += s * s;
      for (auto q = counts.indptr[static_cast<std::size_t>(c)]; q < counts.indptr[static_cast<std::size_t>(c) + 1]; ++q) {
        const auto g = static_cast<std::size_t>(counts.cols[static_cast<std::size_t>(q)]);
        const double y = counts.values[static_cast<std::size_t>(q)];
        y_sum[g] += y, y2_sum[g] += y * y, sy_sum[g] += s * y;
      }
    }
    if (!(s_sum > 0)) continue;
    for (std::size_t g = 0; g < G; ++g) {
      const double m = y_sum[g] / s_sum;
      excess[g] += y2_sum[g] - 2 * m * sy_sum[g] + m * m * s2_sum - m * s_sum;
      scale[g] += m * m * s2_sum;
    }
  }
  excess.insert(excess.end(), scale.begin(), scale.end());
  comm_.replicated_sum_in_place(excess);  // the controls are owned by one rank: the others add 0
  nb_size_.assign(G, 1.0);
  for (std::size_t g = 0; g < G; ++g) {
    const double over = excess[g], sc = excess[G + g];
    // No excess variance: near Poisson; no control counts at all: the size says nothing yet.
    nb_size_[g] = sc <= 0 ? 1.0 : over <= 0 ? 100.0 : std::clamp(sc / over, 0.05, 100.0);
  }
  if (opt_.zero_inflation) nb_dropout_.assign(G, kInitialDropout);
}

void FitProblem::count_bounds(std::vector<double>& lower, std::vector<double>& upper) const {
  const ThetaLayout L = layout();
  for (std::size_t g = 0; g < nb_size_.size(); ++g)
    lower[L.log_size + g] = std::log(kMinSize), upper[L.log_size + g] = std::log(kMaxSize);
  for (std::size_t g = 0; g < nb_dropout_.size(); ++g)
    lower[L.logit_dropout + g] = kMinLogitDropout, upper[L.logit_dropout + g] = kMaxLogitDropout;
}

CountMatrix FitProblem::count_matrix() const {
  return {data_.local_indptr(), data_.local_cols(), data_.local_values(), data_.local_size_factors()};
}

std::vector<double> FitProblem::predicted_mean(const ObservedGroup& o, const std::vector<double>& x) const {
  const auto G = static_cast<std::size_t>(measured_genes());
  const double* delta = o.control >= 0 ? groups_[static_cast<std::size_t>(o.control)].delta.data() : nullptr;
  std::vector<double> m(G);
  for (std::size_t g = 0; g < G; ++g)
    m[g] = std::exp(delta ? delta[g] : 0.0) * std::max(scale_[g] * x[g], 0.0) + kMeanFloor;
  return m;
}

std::vector<double> FitProblem::state_information(const ObservedGroup& o, const std::vector<double>& x) const {
  const auto m = predicted_mean(o, x);
  const auto cells = cells_.of(o.group);
  double s_sum = 0;
  for (const auto c : cells) s_sum += data_.local_size_factors()[static_cast<std::size_t>(c)];
  const double n = static_cast<double>(cells.size()), s_bar = n > 0 ? s_sum / n : 0.0;
  std::vector<double> info(m.size());
  for (std::size_t g = 0; g < m.size(); ++g) {
    const double e = x[g] > 0 ? (m[g] - kMeanFloor) / x[g] : 0.0;  // exp(delta) S
    info[g] = n * s_bar * e * e / (m[g] * (1.0 + s_bar * m[g] / nb_size_[g]));
  }
  return info;
}

double FitProblem::count_term(const ObservedGroup& o, const std::vector<double>& x, std::vector<double>* dx,
                              std::vector<double>* size_grad, std::vector<double>* dropout_grad) const {
  const auto G = static_cast<std::size_t>(measured_genes());
  const auto m = predicted_mean(o, x);
  const CountMatrix counts = count_matrix();
  CountGradient grad(dx ? G : 0);
  const double nll = count_nll(counts, cells_.of(o.group), G, m.data(), nb_size_.data(),
                               nb_dropout_.empty() ? nullptr : nb_dropout_.data(), dx ? &grad : nullptr);
  const double per_gene = 1.0 / static_cast<double>(G);
  if (dx) {
    const double* delta = o.control >= 0 ? groups_[static_cast<std::size_t>(o.control)].delta.data() : nullptr;
    for (std::size_t g = 0; g < G; ++g) {
      if (scale_[g] * x[g] > 0)  // d m / d z = exp(delta) S above the clamp
        (*dx)[g] += per_gene * grad.mean[g] * std::exp(delta ? delta[g] : 0.0) * scale_[g];
      (*size_grad)[g] += per_gene * grad.log_size[g];
      if (!dropout_grad->empty()) (*dropout_grad)[g] += per_gene * grad.logit_dropout[g];
    }
  }
  return nll * per_gene;
}

}  // namespace perturbfit::fit
