#include "perturbfit/fit/gradient_check.hpp"

#include <cmath>
#include <sstream>

#include "perturbfit/core/random.hpp"

namespace perturbfit::fit {

nlohmann::json check_gradient(FitProblem& problem, int directions, double step, const Reporter& reporter,
                              const std::vector<double>* at) {
  std::vector<double> lower, upper, theta = problem.initial_point(), grad;
  problem.bounds(lower, upper);
  const auto& opt = problem.options();
  RandomStream rng(opt.seed, StreamDomain::kFitDirection, 0);
  const std::size_t nw = problem.parameters().W.val.size();
  // W on the scale of the state: inputs s = W z of order 1, so the point stays in the
  // single-attractor regime (a random W of order 1 with z ~ 100 is multistable).
  double x_mean = 0;
  for (double x : problem.references().front().state) x_mean += x / problem.nodes();
  const double in_degree = 1.0 + static_cast<double>(nw) / problem.nodes();
  for (std::size_t i = 0; i < nw; ++i) theta[i] = 0.5 * rng.normal() / (std::max(x_mean, 1e-3) * std::sqrt(in_degree));
  for (std::size_t i = nw; i < theta.size(); ++i)
    if (lower[i] < upper[i] && theta[i] != 0) theta[i] *= 1.0 + 0.1 * rng.normal();
  const ThetaLayout layout = problem.layout();
  // The niche channels' U starts at 0, where the loss does not depend on Gamma: give it values.
  const auto K = static_cast<std::size_t>(problem.parameters().media);
  if (problem.niche_coupled())
    for (std::size_t g = 0; g < static_cast<std::size_t>(problem.nodes()); ++g)
      for (auto k = static_cast<std::size_t>(problem.external_channels()); k < K; ++k)
        theta[layout.U + g * K + k] = 0.3 * rng.normal();
  // Q starts at 0: give its free entries values, so the check is away from v's one point.
  for (std::size_t i = layout.Q; i < layout.Q + problem.parameters().Q.size(); ++i)
    if (lower[i] < upper[i]) theta[i] = 0.3 * rng.normal();
  // phi starts at 0, where the abundance term does not depend on the steady states: give it values.
  for (std::size_t i = layout.fitness; i < layout.log_size; ++i) theta[i] = 0.5 * rng.normal();
  if (at) theta = *at;
  const auto base = problem.evaluate(theta, &grad);
  nlohmann::json rows = nlohmann::json::array();
  double worst = 0;
  // Random directions over every free variable; then one over Gamma alone (coupled) and one
  // over phi alone (guide counts): a few entries among thousands, which the others barely see.
  struct Block {
    std::string name;
    std::size_t first, last;
  };
  std::vector<Block> blocks;
  for (int k = 0; k < directions; ++k) blocks.push_back({"", 0, theta.size()});
  if (problem.niche_coupled()) blocks.push_back({"Gamma", layout.coupling, layout.fitness});
  if (problem.fits_abundance()) blocks.push_back({"phi", layout.fitness, layout.log_size});
  if (problem.count_likelihood()) blocks.push_back({"NB size", layout.log_size, layout.logit_dropout});
  if (!problem.nb_dropout().empty()) blocks.push_back({"dropout", layout.logit_dropout, theta.size()});
  if (!problem.parameters().Q.empty()) blocks.push_back({"Q", layout.Q, layout.Q + problem.parameters().Q.size()});
  for (std::size_t k = 0; k < blocks.size(); ++k) {
    RandomStream dir(opt.seed, StreamDomain::kFitDirection, static_cast<std::uint64_t>(k) + 1);
    std::vector<double> d(theta.size(), 0.0);
    double norm = 0;
    for (std::size_t i = blocks[k].first; i < blocks[k].last; ++i)
      if (lower[i] < upper[i]) d[i] = dir.normal(), norm += d[i] * d[i];
    norm = std::sqrt(norm);
    double adjoint = 0;
    for (std::size_t i = 0; i < d.size(); ++i) d[i] /= norm, adjoint += grad[i] * d[i];
    auto shifted = [&](double h) {
      std::vector<double> t(theta);
      for (std::size_t i = 0; i < t.size(); ++i) t[i] += h * d[i];
      return problem.evaluate(t, nullptr).total;
    };
    const double fd = (shifted(step) - shifted(-step)) / (2 * step);
    const double err = std::abs(fd - adjoint) / std::max({std::abs(fd), std::abs(adjoint), 1e-300});
    worst = std::max(worst, err);
    std::ostringstream os;
    os.precision(10);
    os << "direction " << k << (blocks[k].name.empty() ? "" : " (" + blocks[k].name + ")") << ": adjoint " << adjoint
       << "  finite difference " << fd;
    os.precision(3);
    os << "  relative error " << err;
    reporter.info(os.str());
    rows.push_back({{"direction", k}, {"block", blocks[k].name.empty() ? "all" : blocks[k].name}, {"adjoint", adjoint}, {"finite_difference", fd}, {"relative_error", err}});
  }
  return {{"loss", base.total},
          {"loss_terms", {{"data", base.data}, {"steady_state", base.steady_state}, {"abundance", base.abundance}, {"l1", base.l1}, {"l2", base.l2}}},
          {"step", step},
          {"directions", rows},
          {"max_relative_error", worst},
          {"parameters", theta.size()}};
}

}  // namespace perturbfit::fit
