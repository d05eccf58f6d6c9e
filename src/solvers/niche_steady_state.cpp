#include "perturbfit/solvers/niche_steady_state.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>

#include "perturbfit/core/error.hpp"
#include "perturbfit/solvers/small_dense.hpp"

namespace perturbfit::solvers {

namespace {
std::size_t at(int i) { return static_cast<std::size_t>(i); }

// I - Gamma D_a (K x K, row-major): the Jacobian of animal a's niche equation.
std::vector<double> niche_jacobian(const model::NicheCoupling& coupling, const std::vector<double>& D, int a, int K) {
  const int L = coupling.ligands();
  std::vector<double> M(at(K * K), 0.0);
  for (int i = 0; i < K; ++i) {
    M[at(i * K + i)] = 1.0;
    for (int j = 0; j < K; ++j)
      for (int l = 0; l < L; ++l) M[at(i * K + j)] -= coupling.gamma[at(i * L + l)] * D[at((a * L + l) * K + j)];
  }
  return M;
}
}  // namespace

NicheSteadyState::NicheSteadyState(const parallel::Comm& comm, const model::VectorField& field,
                                   const model::NicheCoupling& coupling, const SteadyStateOptions& options,
                                   int batch_size, int animals)
    : comm_(comm), field_(field), coupling_(coupling), options_(options), batch_size_(batch_size), animals_(animals) {
  coupling_.validate(field_.size(), field_.params().media);
  if (animals_ <= 0) throw UsageError("a niche needs at least one animal");
}

std::vector<model::Condition> NicheSteadyState::coupled_conditions(const std::vector<NicheMember>& members,
                                                                   const std::vector<double>& niche) const {
  const int K = field_.params().media;
  std::vector<model::Condition> conds;
  conds.reserve(members.size());
  for (const auto& m : members) {
    if (m.animal < 0 || m.animal >= animals_)
      throw UsageError("a group refers to animal " + std::to_string(m.animal) + " of " + std::to_string(animals_));
    model::Condition c = *m.condition;
    c.medium.resize(at(K), 0.0);
    for (int k = 0; k < K; ++k) c.medium[at(k)] += niche[at(m.animal * K + k)];
    conds.push_back(std::move(c));
  }
  return conds;
}

std::vector<double> NicheSteadyState::sum_by_animal(const std::vector<NicheMember>& members,
                                                    const std::vector<double>& contributions, int width) const {
  std::vector<int> animal;
  for (const auto& m : members) animal.push_back(m.animal);
  const auto all_animals = comm_.all_gather(animal);
  const auto all = comm_.all_gather(contributions);
  std::vector<double> sums(at(animals_ * width), 0.0);
  for (std::size_t g = 0; g < all_animals.size(); ++g)
    for (int j = 0; j < width; ++j) sums[at(all_animals[g] * width + j)] += all[g * at(width) + at(j)];
  return sums;
}

std::vector<double> NicheSteadyState::weight_sums(const std::vector<NicheMember>& members) const {
  std::vector<double> local;
  for (const auto& m : members) local.push_back(m.weight);
  const auto w = sum_by_animal(members, local, 1);
  for (int a = 0; a < animals_; ++a)
    if (!(w[at(a)] > 0))
      throw UsageError("animal " + std::to_string(a) + " has no cells (population weight 0): its niche is undefined");
  return w;
}

std::vector<double> NicheSteadyState::ligand_means(const std::vector<NicheMember>& members,
                                                   const std::vector<std::vector<double>>& xs) const {
  const int L = coupling_.ligands();
  const auto wsum = weight_sums(members);
  std::vector<double> local;
  for (std::size_t g = 0; g < members.size(); ++g)
    for (int l = 0; l < L; ++l) local.push_back(members[g].weight * xs[g][at(coupling_.ligand_genes[at(l)])]);
  auto H = sum_by_animal(members, local, L);
  for (int a = 0; a < animals_; ++a)
    for (int l = 0; l < L; ++l) H[at(a * L + l)] /= wsum[at(a)];
  return H;
}

void NicheSteadyState::solve_transposed(const std::vector<const model::Condition*>& conds,
                                        const std::vector<const std::vector<double>*>& xs,
                                        const std::vector<const std::vector<double>*>& rhs, double rtol,
                                        std::vector<std::vector<double>>& lambdas,
                                        const std::vector<double>* absolute_targets) const {
  if (batch_size_ > 0) {
    BatchedSteadyStateAdjoint(field_, rtol, batch_size_, options_.relaxation_rate).solve(conds, xs, rhs, lambdas, absolute_targets);
    return;
  }
  SteadyStateAdjoint adjoint(field_, rtol);
  lambdas.assign(conds.size(), {});
  for (std::size_t k = 0; k < conds.size(); ++k) adjoint.solve(*conds[k], *xs[k], *rhs[k], lambdas[k]);
}

std::vector<double> NicheSteadyState::niche_sensitivity(const std::vector<NicheMember>& members,
                                                        const std::vector<model::Condition>& conds,
                                                        const std::vector<std::vector<double>>& xs, double rtol) const {
  const int G = field_.size(), K = field_.params().media, L = coupling_.ligands();
  const auto wsum = weight_sums(members);
  std::vector<std::vector<double>> unit(at(L), std::vector<double>(at(G), 0.0));  // e_l on ligand l
  for (int l = 0; l < L; ++l) unit[at(l)][at(coupling_.ligand_genes[at(l)])] = 1.0;
  std::vector<double> local(members.size() * at(L * K)), dm(at(K));
  model::Linearization lin;
  // Members in chunks (one batch of L columns each), so only a chunk's Y is held.
  const std::size_t chunk = static_cast<std::size_t>(std::max(1, batch_size_));
  std::vector<std::vector<double>> y;
  for (std::size_t b = 0; b < members.size(); b += chunk) {
    const std::size_t e = std::min(members.size(), b + chunk);
    std::vector<const model::Condition*> cs;
    std::vector<const std::vector<double>*> xp, rp;
    for (std::size_t g = b; g < e; ++g)
      for (int l = 0; l < L; ++l) cs.push_back(&conds[g]), xp.push_back(&xs[g]), rp.push_back(&unit[at(l)]);
    solve_transposed(cs, xp, rp, rtol, y);  // y = J^-T e_l: row l of J^-1
    for (std::size_t g = b; g < e; ++g) {
      field_.linearize(xs[g].data(), conds[g], std::numeric_limits<double>::infinity(), lin);
      const double wt = members[g].weight / wsum[at(members[g].animal)];
      for (int l = 0; l < L; ++l) {
        const auto& yl = y[(g - b) * at(L) + at(l)];
        field_.medium_vjp(lin, yl.data(), dm.data());
        for (int k = 0; k < K; ++k) local[g * at(L * K) + at(l * K + k)] = -wt * dm[at(k)];
      }
    }
  }
  return sum_by_animal(members, local, L * K);
}

std::vector<std::size_t> NicheSteadyState::jacobian_sample(const std::vector<NicheMember>& members) const {
  constexpr int kPerAnimal = 16;  // sampled groups per animal (about)
  // Each member's position within its animal, in the global order of members (rank 0's first).
  std::vector<int> local_count(at(animals_), 0);
  for (const auto& m : members) ++local_count[at(m.animal)];
  const auto counts = comm_.all_gather(local_count);  // ranks x animals
  std::vector<int> offset(at(animals_), 0), total(at(animals_), 0);
  for (int r = 0; r < comm_.size(); ++r)
    for (int a = 0; a < animals_; ++a) {
      const int n = counts[at(r * animals_ + a)];
      if (r < comm_.rank()) offset[at(a)] += n;
      total[at(a)] += n;
    }
  std::vector<std::size_t> sample;
  for (std::size_t g = 0; g < members.size(); ++g) {
    const int a = members[g].animal, stride = std::max(1, total[at(a)] / kPerAnimal);
    if (offset[at(a)]++ % stride == 0 && members[g].weight > 0) sample.push_back(g);
  }
  return sample;
}

std::vector<double> NicheSteadyState::sampled_jacobian(const std::vector<NicheMember>& members,
                                                       const std::vector<std::size_t>& sample,
                                                       const std::vector<model::Condition>& conds,
                                                       const std::vector<std::vector<double>>& xs, double rtol) const {
  std::vector<NicheMember> sm;
  std::vector<model::Condition> sc;
  std::vector<std::vector<double>> sx;
  for (const auto g : sample) sm.push_back(members[g]), sc.push_back(conds[g]), sx.push_back(xs[g]);
  // (Newton's rtol 1e-8 instead of 1e-5 cost 0.5 s more on bench_niche for the same iterations.)
  return niche_sensitivity(sm, sc, sx, rtol);
}

void NicheSteadyState::shift_by_sample(const std::vector<NicheMember>& members, const std::vector<std::size_t>& sample,
                                       std::vector<std::vector<double>>& solved, std::vector<std::vector<double>>& xs) const {
  const int G = field_.size();
  std::vector<NicheMember> sm;
  std::vector<double> moved;  // per sampled member: its state's move, then a 1 (to count)
  for (std::size_t k = 0; k < sample.size(); ++k) {
    sm.push_back(members[sample[k]]);
    for (int i = 0; i < G; ++i) moved.push_back(solved[k][at(i)] - xs[sample[k]][at(i)]);
    moved.push_back(1.0);
  }
  const auto sums = sum_by_animal(sm, moved, G + 1);
  std::vector<char> sampled(members.size(), 0);
  for (std::size_t k = 0; k < sample.size(); ++k) sampled[sample[k]] = 1, xs[sample[k]] = std::move(solved[k]);
  for (std::size_t g = 0; g < members.size(); ++g) {
    const double* s = sums.data() + at(members[g].animal * (G + 1));
    if (sampled[g] || !(s[G] > 0)) continue;
    // The niche moves every group of the animal much alike: start from the sample's mean move
    // (kept positive: states are concentrations).
    for (int i = 0; i < G; ++i) xs[g][at(i)] = std::max(xs[g][at(i)] + s[i] / s[G], 0.5 * xs[g][at(i)]);
  }
}

NicheReport NicheSteadyState::solve(const std::vector<NicheMember>& members, std::vector<std::vector<double>>& xs,
                                    std::vector<double>& niche, int max_iterations, double tol) {
  auto report = solve_level(members, xs, niche, max_iterations, tol, true);
  if (report.converged && options_.stability == StabilityMode::kCheck) assess_stability(members, xs, niche, report);
  return report;
}

void NicheSteadyState::assess_stability(const std::vector<NicheMember>& members,
                                        const std::vector<std::vector<double>>& xs, const std::vector<double>& niche,
                                        NicheReport& report) {
  const int K = field_.params().media;
  // Each group's own stability, at its final state only (every outer iteration's inner solves skip it).
  const auto conds = coupled_conditions(members, niche);
  std::vector<const model::Condition*> ptrs;
  for (const auto& c : conds) ptrs.push_back(&c);
  SteadyStateProblem(field_, options_, batch_size_).assess_stability(ptrs, xs, report.groups);
  const auto start = std::chrono::steady_clock::now();
  // At the solution itself (the last Newton step's estimate may date from an earlier iterate);
  // it also serves the adjoint as its preconditioner.
  // Tight: the determinant's sign is the verdict (and with every group sampled it is exact).
  sampled_jacobian_ = sampled_jacobian(members, jacobian_sample(members), conds, xs, 1e-10);
  report.jacobian_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report.niche_determinants.clear();
  report.unstable_animals = 0;
  for (int a = 0; a < animals_; ++a) {
    const double det = determinant(K, niche_jacobian(coupling_, sampled_jacobian_, a, K));
    report.niche_determinants.push_back(det);
    report.unstable_animals += det < 0 ? 1 : 0;
  }
}

NicheReport NicheSteadyState::solve_level(const std::vector<NicheMember>& members, std::vector<std::vector<double>>& xs,
                                          std::vector<double>& niche, int max_iterations, double tol,
                                          bool coarse_first) {
  // The sample's niche differs from the population's by its sampling error (1e-2 on
  // bench_niche): the coarse level need not be solved much closer than that.
  constexpr double kCoarseTolerance = 1e-4;
  const int K = field_.params().media, L = coupling_.ligands();
  if (niche.size() != at(animals_ * K)) niche.assign(at(animals_ * K), 0.0);
  NicheReport report;
  const auto sample = jacobian_sample(members);
  report.jacobian_groups = comm_.sum(static_cast<std::int64_t>(sample.size()));
  // A Jacobian estimate given by set_jacobian_estimate (a nearby solve's) is the start: no coarse level.
  const bool given_jacobian = sampled_jacobian_.size() == at(animals_ * L * K);
  bool have_jacobian = given_jacobian;
  if (coarse_first && !have_jacobian && report.jacobian_groups < comm_.sum(static_cast<std::int64_t>(members.size()))) {
    // Coarse level: the sampled groups' own coupled state, solved with their exact Jacobian
    // (the sample is its own sample), gives a niche near the population's and a Jacobian
    // estimate there; the full iteration starts from both.
    std::vector<NicheMember> sm;
    std::vector<std::vector<double>> sx;
    for (const auto g : sample) sm.push_back(members[g]), sx.push_back(xs[g]);
    auto coarse_niche = niche;
    const auto coarse = solve_level(sm, sx, coarse_niche, max_iterations, std::max(tol, kCoarseTolerance), false);
    report.coarse_iterations = coarse.iterations;
    report.inner_seconds += coarse.inner_seconds, report.jacobian_seconds += coarse.jacobian_seconds;
    if (coarse.converged && coarse.iterations > 0) {
      niche = coarse_niche;
      shift_by_sample(members, sample, sx, xs);
      have_jacobian = true;
    }
  }
  // Inexact Newton: while the niche is far from its fixed point the groups' states need not
  // be exact (their error only has to stay below the niche residual's); the last iterate is
  // solved to options.atol, and only then can the niche be declared converged.
  // Forcing 1e-3: at 1e-2 the first step's states were solved looser (1e-4) than the residual
  // they then measured (1e-5 on bench_niche), so the next step corrected noise and one more
  // pass over every group was needed (5 passes; 4 at 1e-3).
  constexpr double kForcing = 1e-3, kFirstTolerance = 1e-4;
  double inner_atol = std::max(options_.atol, kFirstTolerance);
  // A given estimate serves the first step; the coarse level's is estimated again at its
  // solution (it may date from an earlier coarse iterate: reused, the full iteration took
  // 6 steps instead of 4 on bench_niche).
  double previous_residual = given_jacobian ? std::numeric_limits<double>::infinity() : 0.0;
  constexpr double kMinStep = 1.0 / 64;  // shortest damped step; below it the step is taken anyway
  constexpr double kDampedAbove = 1e-3;  // relative residual above which steps are damped
  struct LineSearch {
    std::vector<double> last_niche, step;  // the animal's last accepted niche and Newton step from it
    double last_residual = 0.0, alpha = 1.0;
  };
  std::vector<LineSearch> search(at(animals_));
  for (int it = 0;; ++it) {
    const auto conds = coupled_conditions(members, niche);
    std::vector<const model::Condition*> ptrs;
    for (const auto& c : conds) ptrs.push_back(&c);
    auto start = std::chrono::steady_clock::now();
    SteadyStateOptions inner_options = options_;
    inner_options.atol = inner_atol;
    inner_options.stability = StabilityMode::kSkip;  // tested once, on the final states (assess_stability)
    SteadyStateProblem inner(field_, inner_options, batch_size_);
    report.groups = inner.solve(ptrs, xs);
    const double inner_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    report.inner_seconds += inner_seconds;
    report.inner_seconds_by_iteration.push_back(inner_seconds);
    std::int64_t failed = 0;
    for (const auto& r : report.groups) failed += r.converged ? 0 : 1;
    report.failed_groups = comm_.sum(failed);
    if (report.failed_groups > 0) return report;

    const auto H = ligand_means(members, xs);
    std::vector<double> R(at(animals_ * K)), animal_residual(at(animals_), 0.0);  // n - Gamma H
    for (int a = 0; a < animals_; ++a)
      for (int k = 0; k < K; ++k) {
        double r = niche[at(a * K + k)];
        for (int l = 0; l < L; ++l) r -= coupling_.gamma[at(k * L + l)] * H[at(a * L + l)];
        R[at(a * K + k)] = r;
        animal_residual[at(a)] = std::max(animal_residual[at(a)], std::abs(r));
      }
    report.residual = *std::max_element(animal_residual.begin(), animal_residual.end());
    report.residuals.push_back(report.residual);
    report.iterations = it;
    const bool exact = inner_atol <= options_.atol;
    if (report.residual <= tol && exact) {
      report.converged = true;
      return report;
    }
    if (it >= max_iterations) return report;
    if (report.residual <= tol) {  // the states were inexact: solve them again, exactly
      inner_atol = options_.atol;
      continue;
    }
    inner_atol = std::max(options_.atol, kForcing * report.residual);

    // Globalised per animal (the animals are independent systems): a step that does not
    // lower the animal's residual is halved from its last accepted niche (a full Newton
    // step cycled between two states on a sigmoidal feedback, residual 1.2 <-> 2.3).
    std::vector<char> accepted(at(animals_), 1);
    double accepted_residual = 0.0;
    for (int a = 0; a < animals_; ++a) {
      auto& ls = search[at(a)];
      const double r = animal_residual[at(a)];
      // Close to the fixed point Newton converges locally, and the residual is measured on
      // inexact states (their tolerance follows the largest residual of all animals): no
      // damping there, where it halved steps that the states' noise made look bad.
      double size = 1.0;
      for (double v : ls.last_niche) size = std::max(size, std::abs(v));
      const bool far = ls.last_residual > kDampedAbove * size;
      if (!ls.last_niche.empty() && far && ls.alpha > kMinStep && r > (1.0 - 1e-4 * ls.alpha) * ls.last_residual) {
        accepted[at(a)] = 0;
        ls.alpha /= 2;
        for (int k = 0; k < K; ++k) niche[at(a * K + k)] = ls.last_niche[at(k)] - ls.alpha * ls.step[at(k)];
        continue;
      }
      ls.last_niche.assign(niche.begin() + a * K, niche.begin() + (a + 1) * K);
      ls.last_residual = r;
      accepted_residual = std::max(accepted_residual, r);
    }
    if (std::find(accepted.begin(), accepted.end(), 1) == accepted.end()) continue;

    // The Jacobian from the sampled groups, an estimate of the population average D_a; the
    // fixed point is exact whatever the estimate. It is kept while the residual falls
    // tenfold per iteration (a chord iteration), else estimated again at this iterate: kept from n = 0, it
    // diverged on bench_niche (D_a moves with the niche).
    if (!have_jacobian || accepted_residual > 0.1 * previous_residual) {
      start = std::chrono::steady_clock::now();
      sampled_jacobian_ = sampled_jacobian(members, sample, conds, xs);
      report.jacobian_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      have_jacobian = true;
    }
    previous_residual = accepted_residual;
    const auto& D = sampled_jacobian_;
    for (int a = 0; a < animals_; ++a) {
      if (!accepted[at(a)]) continue;
      auto& ls = search[at(a)];
      auto M = niche_jacobian(coupling_, D, a, K);
      ls.step.assign(R.begin() + a * K, R.begin() + (a + 1) * K);
      solve_general(K, M, ls.step, 1);
      ls.alpha = 1.0;
      for (int k = 0; k < K; ++k) niche[at(a * K + k)] -= ls.step[at(k)];
    }
  }
}

NicheGradientReport NicheSteadyState::accumulate_gradient(const std::vector<NicheMember>& members,
                                           const std::vector<std::vector<double>>& xs, const std::vector<double>& niche,
                                           const std::vector<std::vector<double>>& rhs, double rtol,
                                           ParameterGradient& grad, std::vector<double>& coupling_grad,
                                           std::vector<std::vector<double>>* knock_grads) {
  constexpr int kMaxSweeps = 50;
  const int G = field_.size(), K = field_.params().media, L = coupling_.ligands();
  const auto conds = coupled_conditions(members, niche);
  const auto wsum = weight_sums(members);
  std::vector<const model::Condition*> cs;
  std::vector<const std::vector<double>*> xp, rp;
  for (std::size_t g = 0; g < members.size(); ++g) cs.push_back(&conds[g]), xp.push_back(&xs[g]), rp.push_back(&rhs[g]);
  std::vector<model::Linearization> lin(members.size());
  for (std::size_t g = 0; g < members.size(); ++g)
    field_.linearize(xs[g].data(), conds[g], std::numeric_limits<double>::infinity(), lin[g]);

  // mu solves mu = F(mu) = -sum_g (df/dm)^T lambda_g(mu), lambda_g(mu) = J_g^-T (dl/dx_g +
  // w~_g S^T Gamma^T mu_a), i.e. (I - Gamma D_a)^T mu_a = q_a. Iterated with the sampled
  // (I - Gamma D~_a)^-T as preconditioner; each sweep adds to lambda_g the solve of its
  // change, whose right-hand side is O(w~_g) small, so it needs few Krylov iterations to
  // the absolute accuracy of the first solve (rtol ||dl/dx_g||).
  NicheGradientReport report;
  const auto seconds_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  auto start = std::chrono::steady_clock::now();
  std::vector<std::vector<double>> lambda, delta;
  solve_transposed(cs, xp, rp, rtol, lambda);
  report.first_solve_seconds = seconds_since(start);
  // The increments' absolute targets: the first solve's accuracy, rtol ||dl/dx_g||; for a
  // group outside the loss (dl/dx_g = 0: it only shapes the niche) that would be 0, which
  // no Krylov solve reaches, so at least rtol times the mean over all groups.
  std::vector<double> targets;
  double norm_sum = 0.0;
  for (const auto& r : rhs) {
    double n = 0.0;
    for (double v : r) n += v * v;
    targets.push_back(rtol * std::sqrt(n));
    norm_sum += std::sqrt(n);
  }
  const double mean_target =
      rtol * comm_.sum(norm_sum) / static_cast<double>(std::max<std::int64_t>(1, comm_.sum(static_cast<std::int64_t>(rhs.size()))));
  for (auto& t : targets) t = std::max(t, mean_target);
  // The preconditioner: the last solve's sampled Jacobian, else one at this state.
  if (sampled_jacobian_.size() != at(animals_ * L * K)) {
    start = std::chrono::steady_clock::now();
    sampled_jacobian_ = sampled_jacobian(members, jacobian_sample(members), conds, xs);
    report.jacobian_seconds = seconds_since(start);
  }
  const auto& D = sampled_jacobian_;
  std::vector<double> mu(at(animals_ * K), 0.0), local(members.size() * at(K)), dm(at(K));
  std::vector<std::vector<double>> step_rhs(members.size(), std::vector<double>(at(G), 0.0));
  double scale = 0.0;
  for (int sweep = 0;; ++sweep) {
    report.sweeps = sweep;
    for (std::size_t g = 0; g < members.size(); ++g) {
      field_.medium_vjp(lin[g], lambda[g].data(), dm.data());
      for (int k = 0; k < K; ++k) local[g * at(K) + at(k)] = -dm[at(k)];
    }
    const auto F = sum_by_animal(members, local, K);
    std::vector<double> r(F.size());
    double largest = 0.0;
    for (std::size_t i = 0; i < F.size(); ++i) {
      r[i] = F[i] - mu[i];
      largest = std::max(largest, std::abs(r[i]));
      if (sweep == 0) scale = std::max(scale, std::abs(F[i]));
    }
    report.residuals.push_back(largest / std::max(scale, 1e-300));
    if (largest <= 10 * rtol * std::max(scale, 1e-300)) break;
    if (sweep >= kMaxSweeps)
      throw NumericalError("the niche adjoint did not converge in " + std::to_string(kMaxSweeps) +
                           " sweeps (residual " + std::to_string(largest) +
                           "): the niche feedback is too strong for its sampled Jacobian");
    std::vector<double> nu(at(animals_ * L), 0.0);  // Gamma^T (change of mu)
    for (int a = 0; a < animals_; ++a) {
      auto M = niche_jacobian(coupling_, D, a, K);
      std::vector<double> d(r.begin() + a * K, r.begin() + (a + 1) * K);
      solve_general(K, M, d, 1, /*transpose=*/true);
      for (int k = 0; k < K; ++k) {
        mu[at(a * K + k)] += d[at(k)];
        for (int l = 0; l < L; ++l) nu[at(a * L + l)] += coupling_.gamma[at(k * L + l)] * d[at(k)];
      }
    }
    for (std::size_t g = 0; g < members.size(); ++g) {
      const int a = members[g].animal;
      const double wt = members[g].weight / wsum[at(a)];
      for (int l = 0; l < L; ++l) step_rhs[g][at(coupling_.ligand_genes[at(l)])] = wt * nu[at(a * L + l)];
    }
    std::vector<const std::vector<double>*> sp;
    for (const auto& v : step_rhs) sp.push_back(&v);
    start = std::chrono::steady_clock::now();
    solve_transposed(cs, xp, sp, rtol, delta, &targets);
    report.sweep_seconds += seconds_since(start);
    for (std::size_t g = 0; g < members.size(); ++g)
      for (int i = 0; i < G; ++i) lambda[g][at(i)] += delta[g][at(i)];
  }

  // dl/dtheta = -sum_g lambda_g^T df/dtheta at each group's coupled condition, a batch of
  // groups per pass over W (as the uncoupled adjoint does).
  if (knock_grads) knock_grads->assign(members.size(), {});
  const std::size_t chunk = static_cast<std::size_t>(std::max(1, batch_size_));
  std::vector<double> X, Wt;
  std::vector<std::vector<double>> chunk_knocks;
  for (std::size_t b = 0; b < members.size(); b += chunk) {
    const std::size_t e = std::min(members.size(), b + chunk), n = e - b;
    X.assign(at(G) * n, 0.0), Wt.assign(at(G) * n, 0.0);
    for (std::size_t k = 0; k < n; ++k)
      for (std::size_t i = 0; i < at(G); ++i) X[i * n + k] = xs[b + k][i], Wt[i * n + k] = -lambda[b + k][i];
    const std::vector<const model::Condition*> chunk_conds(cs.begin() + static_cast<long>(b),
                                                           cs.begin() + static_cast<long>(e));
    add_parameter_vjp_batch(field_, chunk_conds, X.data(), Wt.data(), grad, knock_grads ? &chunk_knocks : nullptr);
    for (std::size_t k = 0; knock_grads && k < n; ++k) (*knock_grads)[b + k] = std::move(chunk_knocks[k]);
  }
  // dl/dGamma = sum_a mu_a H_a^T, replicated: counted on the root only.
  coupling_grad.resize(at(K * L), 0.0);
  const auto H = ligand_means(members, xs);
  if (comm_.is_root())
    for (int a = 0; a < animals_; ++a)
      for (int k = 0; k < K; ++k)
        for (int l = 0; l < L; ++l) coupling_grad[at(k * L + l)] += mu[at(a * K + k)] * H[at(a * L + l)];
  return report;
}

}  // namespace perturbfit::solvers
