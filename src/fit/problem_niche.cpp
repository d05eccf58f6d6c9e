// FitProblem with fit.niche = coupled (MODEL.md section 7, docs/in_vivo.md): every animal
// (batch) is one coupled system of its groups' steady states and its niche factors
// n_a = Gamma <x[ligands]>_w; the groups of every split are in it (their cells shape the
// niche whatever the loss does with them), weighted by their cells. Gamma is fitted with
// the model's parameters; its gradient and theirs come through the coupled adjoint.
#include <algorithm>
#include <cmath>

#include "perturbfit/core/error.hpp"
#include "perturbfit/core/random.hpp"
#include "perturbfit/fit/problem.hpp"
#include "perturbfit/solvers/niche_steady_state.hpp"

namespace perturbfit::fit {

void FitProblem::setup_niche(std::size_t external_channels) {
  if (data_.times().size() > 1)
    throw UsageError("fit.niche = coupled with several time points is not implemented; fit one time point");
  const auto& genes = data_.genes();
  for (const auto& name : opt_.ligand_genes) {
    const auto it = std::find(genes.begin(), genes.end(), name);
    if (it == genes.end())
      throw DataError("ligand gene '" + name +
                      "' of [niche].ligand_genes is not among the screen's measured genes (var, after the gene "
                      "selection): the niche is the mean of measured expression; remove it from the list or keep "
                      "it in data's gene selection");
    const int node = static_cast<int>(it - genes.begin());
    if (std::find(coupling_.ligand_genes.begin(), coupling_.ligand_genes.end(), node) != coupling_.ligand_genes.end())
      throw UsageError("ligand gene '" + name + "' is listed twice in [niche].ligand_genes");
    coupling_.ligand_genes.push_back(node);
  }
  external_channels_ = static_cast<int>(external_channels);
  niche_channels_ = opt_.niche_channels > 0 ? opt_.niche_channels : coupling_.ligands();
  animals_ = static_cast<int>(data_.batches().size());
  coupling_.gamma = initial_coupling();
  reporter_.info("niche coupling: " + std::to_string(animals_) + " animals (the batches), " +
                 std::to_string(coupling_.ligands()) + " ligand genes, " + std::to_string(niche_channels_) +
                 " niche channels");
}

// Small random values on the niche channels: at Gamma = 0 and U = 0 (where the niche
// channels' U starts) the loss is stationary in both, and neither would ever move.
std::vector<double> FitProblem::initial_coupling() const {
  const auto L = static_cast<std::size_t>(coupling_.ligands()), E = static_cast<std::size_t>(external_channels_);
  std::vector<double> gamma((E + static_cast<std::size_t>(niche_channels_)) * L, 0.0);
  RandomStream rng(opt_.seed, StreamDomain::kFitNiche, 0);
  for (std::size_t i = E * L; i < gamma.size(); ++i) gamma[i] = 0.1 * rng.normal() / std::sqrt(static_cast<double>(L));
  return gamma;
}

std::int64_t FitProblem::solve_coupled(LossValue* tally, bool check_stability, bool probes) {
  auto opt = opt_.steady;
  if (check_stability) opt.stability = solvers::StabilityMode::kCheck;
  std::vector<solvers::NicheMember> members;
  std::vector<std::size_t> index;
  std::vector<std::vector<double>> xs;
  const bool anchored = warm_start_ == WarmStart::kAnchored;
  for (std::size_t i = 0; i < conditions_.size(); ++i) {
    const auto& c = conditions_[i];
    if (!c.member) continue;
    members.push_back({&c.condition, c.animal, c.cells});
    index.push_back(i);
    xs.push_back(anchored && !c.start.empty() ? std::vector<double>(c.start.begin(), c.start.end()) : c.x);
  }
  if (anchored && !niche_start_.empty()) niche_ = niche_start_;
  solvers::NicheSteadyState coupled(comm_, *field_, coupling_, opt, opt_.batch_size, animals_);
  coupled.set_jacobian_estimate(niche_.jacobian);
  constexpr int kMaxNicheIterations = 30;
  // The niche to the groups' tolerance: the loss is then smooth to it wherever the solve starts
  // (--check-gradient tightens it for its finite differences).
  const auto report = coupled.solve(members, xs, niche_.factors, kMaxNicheIterations, opt.atol);
  niche_.jacobian = coupled.jacobian_estimate();
  std::int64_t fallbacks = 0;
  for (std::size_t k = 0; k < index.size(); ++k) {
    auto& c = conditions_[index[k]];
    const auto& r = report.groups[k];
    c.method = r.method, c.newton_iterations = r.newton_iterations;
    if (!solvers::is_batched(r.method)) ++fallbacks;
    c.solved = report.converged && r.converged;
    c.x = c.solved ? std::move(xs[k]) : references_[static_cast<std::size_t>(c.reference)].state;
    if (check_stability) c.stable = r.stable, c.leading_eigenvalue = r.leading_eigenvalue;
  }
  if (tally) tally->fallbacks += fallbacks, tally->steady_states += static_cast<std::int64_t>(index.size());
  const std::int64_t members_total = comm_.sum(static_cast<std::int64_t>(index.size()));
  if (!report.converged) {
    reporter_.warn("the niche did not converge (residual " + std::to_string(report.residual) + " after " +
                   std::to_string(report.iterations) + " outer iterations, " + std::to_string(report.failed_groups) +
                   " groups failed)");
    return members_total;
  }
  if (check_stability) {
    niche_determinants_ = report.niche_determinants;
    if (report.unstable_animals > 0)
      reporter_.warn("the coupled state of " + std::to_string(report.unstable_animals) +
                     " animal(s) is unstable through the niche (det(I - Gamma D) < 0: a saddle between other "
                     "coupled states); their predictions are states the cells would leave");
  }
  if (!probes) return 0;
  // The conditions counted elsewhere or nowhere (other ranks' controls, the shared knock alone,
  // the references' states in the mean niche), each in its animal's niche.
  std::vector<int> which;
  for (std::size_t i = 0; i < conditions_.size(); ++i)
    if (!conditions_[i].member) which.push_back(static_cast<int>(i));
  return comm_.sum(solve(which, nullptr, check_stability, &niche_.factors));
}

double FitProblem::coupled_gradient(const std::vector<std::vector<double>>& dl_dx, solvers::ParameterGradient& grad,
                                    std::vector<double>& coupling_grad) {
  std::vector<solvers::NicheMember> members;
  std::vector<std::vector<double>> xs, rhs;
  const std::vector<double> none(static_cast<std::size_t>(params_.genes), 0.0);
  for (std::size_t i = 0; i < conditions_.size(); ++i) {
    const auto& c = conditions_[i];
    if (!c.member) continue;
    members.push_back({&c.condition, c.animal, c.cells});
    xs.push_back(c.x);
    rhs.push_back(dl_dx[i].empty() ? none : dl_dx[i]);  // outside the loss, a group still shapes its niche
  }
  solvers::NicheSteadyState coupled(comm_, *field_, coupling_, opt_.steady, opt_.batch_size, animals_);
  coupled.set_jacobian_estimate(niche_.jacobian);  // the forward solve's: the adjoint's preconditioner
  std::vector<std::vector<double>> knock_grads;
  coupled.accumulate_gradient(members, xs, niche_.factors, rhs, opt_.adjoint_rtol, grad, coupling_grad, &knock_grads);
  double kappa_grad = 0.0;
  for (std::size_t k = 0; k < members.size(); ++k) kappa_grad += kappa_gradient(*members[k].condition, knock_grads[k]);
  return kappa_grad;
}

}  // namespace perturbfit::fit
