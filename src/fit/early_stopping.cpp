#include "perturbfit/fit/early_stopping.hpp"

#include <cmath>

namespace perturbfit::fit {

namespace {
double mean_of_finite(const std::vector<double>& v, std::size_t& n) {
  double s = 0;
  n = 0;
  for (double x : v)
    if (std::isfinite(x)) s += x, ++n;
  return n > 0 ? s / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();
}
}  // namespace

bool EarlyStopping::record(int iteration, const std::vector<double>& theta, const std::vector<double>& group_losses,
                           int patience) {
  std::size_t n = 0;
  const double mean = mean_of_finite(group_losses, n);
  if (n == 0) return false;  // nothing to judge by
  if (mean < best) {
    best = mean, best_iteration = iteration, best_groups = group_losses;
    selected_iteration = iteration, selected_theta = theta;
    checks_since_best = 0;
    return false;
  }
  ++checks_since_best;
  // Paired over the groups finite at both iterates.
  std::vector<double> d;
  for (std::size_t k = 0; k < group_losses.size() && k < best_groups.size(); ++k)
    if (std::isfinite(group_losses[k]) && std::isfinite(best_groups[k])) d.push_back(group_losses[k] - best_groups[k]);
  if (d.size() >= 2) {
    double m = 0, ss = 0;
    for (double x : d) m += x / static_cast<double>(d.size());
    for (double x : d) ss += (x - m) * (x - m);
    const double se = std::sqrt(ss / static_cast<double>(d.size() - 1) / static_cast<double>(d.size()));
    if (m <= se) selected_iteration = iteration, selected_theta = theta;
  }
  return patience > 0 && checks_since_best >= patience;
}

}  // namespace perturbfit::fit
