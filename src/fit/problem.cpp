#include "perturbfit/fit/problem.hpp"

// The loss of MODEL.md section 8 and its adjoint gradient (set-up: problem_setup.cpp).
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "perturbfit/core/error.hpp"
#include "perturbfit/core/memory.hpp"
#include "perturbfit/solvers/adjoint.hpp"
#include "perturbfit/solvers/steady_state_problem.hpp"
#include "perturbfit/solvers/steady_state.hpp"

namespace perturbfit::fit {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kUnbounded = 1e20;  // PETSc's PETSC_INFINITY threshold is 1e20 as well

}  // namespace

std::size_t FitProblem::size() const { return layout().size; }

namespace {
// Row sums of W: W z at z = 1, every node at its control level (the unit of z).
std::vector<double> input_at_control(const model::CsrMatrix& W) {
  std::vector<double> sum(static_cast<std::size_t>(W.rows), 0.0);
  for (std::size_t g = 0; g < sum.size(); ++g)
    for (auto k = W.row_ptr[g]; k < W.row_ptr[g + 1]; ++k) sum[g] += W.val[static_cast<std::size_t>(k)];
  return sum;
}
}  // namespace

std::vector<double> FitProblem::initial_point() const {
  auto theta = model::pack_parameters(params_);
  const ThetaLayout L = layout();
  const auto wz = input_at_control(params_.W);
  for (std::size_t g = 0; g < wz.size(); ++g) theta[L.c + g] += wz[g];  // c-bar = c + W 1
  theta.push_back(kappa_);
  theta.insert(theta.end(), coupling_.gamma.begin(), coupling_.gamma.end());
  if (fits_abundance_) theta.insert(theta.end(), params_.fitness.begin(), params_.fitness.end());
  for (const double r : nb_size_) theta.push_back(std::log(r));
  for (const double pi : nb_dropout_) theta.push_back(std::log(pi / (1.0 - pi)));
  return theta;
}

void FitProblem::bounds(std::vector<double>& lower, std::vector<double>& upper) const {
  const ThetaLayout L = layout();
  lower.assign(L.size, -kUnbounded);
  upper.assign(L.size, kUnbounded);
  // Regulatory weights in model units (z = 1: the control level) within +-fit.max_weight: a
  // weight of 5 already takes a gene's activation across its whole sigmoid when its
  // regulator doubles; larger ones only fit noise with switch-like, multistable circuits
  // whose steady states the solvers then chase. The shared response's out-weights (a
  // source, no feedback) are free.
  for (std::size_t e = 0; e < params_.W.val.size(); ++e)
    if (!is_shared(params_.W.col[e])) lower[L.W + e] = -opt_.max_weight, upper[L.W + e] = opt_.max_weight;
  for (std::size_t i = L.v; i < L.beta; ++i) lower[i] = 1e-8;
  for (std::size_t i = L.beta; i < L.gamma; ++i) lower[i] = 0.0;
  for (std::size_t i = L.gamma; i < L.A; ++i) {
    if (opt_.fit_decay)
      lower[i] = 1e-3;
    else
      lower[i] = upper[i] = params_.gamma[i - L.gamma];
  }
  if (opt_.learn_kappa)
    lower[L.kappa] = opt_.kappa_min, upper[L.kappa] = opt_.kappa_max;
  else
    lower[L.kappa] = upper[L.kappa] = opt_.kappa;
  // The niche moves the niche channels only: Gamma's rows of the external medium stay 0; and
  // it moves activation (U), not production (Q's niche columns stay 0).
  const auto ligands = static_cast<std::size_t>(coupling_.ligands());
  const auto K = static_cast<std::size_t>(params_.media);
  for (std::size_t g = 0; !params_.Q.empty() && g < static_cast<std::size_t>(params_.genes); ++g)
    for (auto k = static_cast<std::size_t>(external_channels_); opt_.niche && k < K; ++k)
      lower[L.Q + g * K + k] = upper[L.Q + g * K + k] = 0.0;
  for (std::size_t i = 0; i < static_cast<std::size_t>(external_channels_) * ligands; ++i)
    lower[L.coupling + i] = upper[L.coupling + i] = 0.0;
  count_bounds(lower, upper);
}

void FitProblem::set_point(const std::vector<double>& theta) {
  if (theta.size() != size())
    throw UsageError("parameter vector has " + std::to_string(theta.size()) + " values, the model " +
                     std::to_string(size()) + " (a checkpoint of another deck or screen?)");
  model::unpack_parameters(theta.data(), params_);
  const auto wz = input_at_control(params_.W);
  for (std::size_t g = 0; g < wz.size(); ++g) params_.c[g] -= wz[g];  // c = c-bar - W 1
  const ThetaLayout L = layout();
  kappa_ = theta[L.kappa];
  std::copy(theta.begin() + static_cast<long>(L.coupling), theta.begin() + static_cast<long>(L.fitness),
            coupling_.gamma.begin());
  if (fits_abundance_)
    std::copy(theta.begin() + static_cast<long>(L.fitness), theta.begin() + static_cast<long>(L.log_size),
              params_.fitness.begin());
  for (std::size_t g = 0; g < nb_size_.size(); ++g) nb_size_[g] = std::exp(theta[L.log_size + g]);
  for (std::size_t g = 0; g < nb_dropout_.size(); ++g) nb_dropout_[g] = model::logistic(theta[L.logit_dropout + g]);
  for (auto& c : conditions_) {
    for (auto& k : c.condition.knock)
      if (!is_shared(k.first)) k.second = kappa_;
    c.solved = false;
  }
  field_ = std::make_unique<model::VectorField>(params_);
}

void FitProblem::reset_warm_starts() {
  for (auto& c : conditions_) {
    c.x = references_[static_cast<std::size_t>(c.reference)].state;
    c.start.assign(c.x.begin(), c.x.end());
    c.kept.clear();
    c.solved = false;
  }
  niche_ = niche_start_ = niche_kept_ = {};  // the niche restarts at 0, as in a fresh process
}

void FitProblem::keep_candidate() {
  for (auto& c : conditions_)
    if (c.solved) c.kept.assign(c.x.begin(), c.x.end());
  niche_kept_ = niche_;
}

void FitProblem::accept_candidate() {
  for (auto& c : conditions_)
    if (!c.kept.empty()) c.start.swap(c.kept), c.kept.clear();
  if (!niche_kept_.empty()) niche_start_ = std::move(niche_kept_), niche_kept_ = {};
}

void FitProblem::release_warm_starts() {
  for (auto& c : conditions_) c.start = {}, c.kept = {};
  return_freed_memory();
}

std::int64_t FitProblem::solve(const std::vector<int>& which, LossValue* tally, bool check_stability,
                               const std::vector<double>* niche) {
  std::vector<int> steady, timed;
  for (int i : which) (conditions_[static_cast<std::size_t>(i)].trajectory >= 0 ? timed : steady).push_back(i);
  std::int64_t failed = timed.empty() ? 0 : integrate(timed, tally);
  if (!steady.empty()) failed += solve_steady(steady, tally, check_stability, niche);
  return failed;
}

std::int64_t FitProblem::solve_steady(const std::vector<int>& which, LossValue* tally, bool check_stability,
                                      const std::vector<double>* niche) {
  auto opt = opt_.steady;
  if (check_stability) opt.stability = solvers::StabilityMode::kCheck;
  std::vector<const model::Condition*> conds;
  std::vector<model::Condition> in_niche;  // with a niche: the conditions it shifts
  in_niche.reserve(which.size());
  std::vector<std::vector<double>> xs;
  std::vector<const std::vector<double>*> references;  // a failed batched column restarts from the data
  for (int i : which) {
    auto& c = conditions_[static_cast<std::size_t>(i)];
    if (niche) {
      in_niche.push_back(c.condition);
      const auto K = in_niche.back().medium.size();
      for (std::size_t k = 0; k < K; ++k)
        for (int a = 0; a < animals_; ++a)  // animal -1: the mean niche over the animals
          if (c.animal == a || c.animal < 0)
            in_niche.back().medium[k] +=
                (*niche)[static_cast<std::size_t>(a) * K + k] / (c.animal < 0 ? animals_ : 1);
      conds.push_back(&in_niche.back());
    } else {
      conds.push_back(&c.condition);
    }
    // The solve works in the condition's own buffer (moved out and back): a copy of every
    // state would be another conditions x nodes array at genome scale.
    auto x = std::move(c.x);
    if (warm_start_ == WarmStart::kAnchored && !c.start.empty()) x.assign(c.start.begin(), c.start.end());
    xs.push_back(std::move(x));
    references.push_back(&references_[static_cast<std::size_t>(c.reference)].state);
  }
  solvers::SteadyStateProblem steady(*field_, opt, opt_.batch_size);
  std::vector<solvers::SteadyStateReport> reports;
  try {
    reports = steady.solve(conds, xs, references);
  } catch (...) {  // each condition keeps where its solve got to, unsolved
    for (std::size_t k = 0; k < which.size(); ++k) {
      auto& c = conditions_[static_cast<std::size_t>(which[k])];
      c.x = std::move(xs[k]), c.solved = false;
    }
    throw;
  }
  std::int64_t failed = 0, fallbacks = 0;
  for (std::size_t k = 0; k < which.size(); ++k) {
    auto& c = conditions_[static_cast<std::size_t>(which[k])];
    const auto& r = reports[k];
    c.method = r.method;
    c.newton_iterations = r.newton_iterations;
    if (!solvers::is_batched(r.method)) ++fallbacks;
    c.solved = r.converged;
    if (!r.converged) {
      ++failed;
      c.x = *references[k];
      continue;
    }
    c.x = std::move(xs[k]);
    if (check_stability) {
      c.stable = r.stable;
      c.leading_eigenvalue = r.leading_eigenvalue;
    }
  }
  if (tally) tally->fallbacks += fallbacks, tally->steady_states += static_cast<std::int64_t>(which.size());
  return failed;
}

LossValue FitProblem::evaluate(const std::vector<double>& theta, std::vector<double>* gradient,
                               const std::vector<int>& batches) {
  set_point(theta);
  const auto G = static_cast<std::size_t>(measured_genes()), N = static_cast<std::size_t>(params_.genes);
  auto selected_batch = [&](int b) {
    return batches.empty() || std::find(batches.begin(), batches.end(), b) != batches.end();
  };
  auto in_loss = [&](const ObservedGroup& o) {
    return o.owned && o.split == Split::kTrain && o.condition >= 0 && !o.heldout_time && selected_batch(o.batch);
  };
  std::vector<char> needed(conditions_.size(), 0);
  for (const auto& o : groups_)
    if (in_loss(o)) needed[static_cast<std::size_t>(o.condition)] = 1;
  // References whose control groups are selected: the steady-state term's control states.
  std::vector<char> used_references(references_.size(), 0);
  for (const auto& o : groups_)
    if (o.control >= 0 && &groups_[static_cast<std::size_t>(o.control)] == &o && !o.heldout_time &&
        selected_batch(o.batch))
      used_references[static_cast<std::size_t>(o.reference)] = 1;
  // A differentiating system's controls are at a steady state only where the deck says so.
  if (time_course() && !opt_.controls_steady)
    for (std::size_t r = 0; r < references_.size(); ++r)
      if (std::isfinite(time_values_[static_cast<std::size_t>(references_[r].time)])) used_references[r] = 0;
  // With latent nodes the term needs the model's control steady state (the root computes it).
  if (opt_.lambda_ss > 0 && N > G && comm_.is_root())
    for (std::size_t r = 0; r < references_.size(); ++r)
      if (used_references[r]) needed[static_cast<std::size_t>(references_[r].condition)] = 1;
  for (const auto& t : abundance_terms_)
    if (t.split == Split::kTrain) needed[static_cast<std::size_t>(t.condition)] = 1;
  for (const auto& slot : abundance_controls_)
    if (slot.solver) needed[static_cast<std::size_t>(slot.condition)] = 1;
  std::vector<int> which;
  for (std::size_t i = 0; i < needed.size(); ++i)
    if (needed[i]) which.push_back(static_cast<int>(i));
  LossValue value;
  if (opt_.niche && !batches.empty()) throw std::logic_error("niche coupling evaluates every animal together");
  // Coupled, every group of every animal is solved (its cells shape the niche, whatever its split).
  std::int64_t failed = 0;
  if (opt_.niche) {
    failed = solve_coupled(&value, false, false);
  } else {
    std::string failure;
    try {
      failed = solve(which, &value, false);
    } catch (const NumericalError& e) {
      failure = e.what();
    }
    agree_on_failure(failure);
  }
  if (opt_.niche && failed > 0)
    throw NumericalError("the coupled steady state (every animal's niche and groups) failed at this point");

  // Data term, unnormalised: sum_k n_k mean_g r^2, and dl/dx* per condition. The plain
  // steady-state fit builds dl/dx chunk by chunk beside its adjoints (below): held for every
  // condition at once it is a dense conditions x N block, gigabytes per rank at genome scale.
  const bool chunked_dl_dx =
      gradient && !opt_.count_likelihood && !opt_.niche && !time_course() && !fits_abundance();
  const bool whole_dl_dx = gradient && !chunked_dl_dx;
  double cells = 0, loss = 0;
  std::vector<std::vector<double>> dl_dx(conditions_.size());  // each empty unless whole_dl_dx
  std::vector<std::vector<int>> loss_groups(chunked_dl_dx ? conditions_.size() : 0);  // per condition
  std::vector<double> fitness_grad(gradient && fits_abundance_ ? params_.fitness.size() : 0, 0.0);
  std::vector<double> size_grad(gradient ? nb_size_.size() : 0, 0.0), dropout_grad(gradient ? nb_dropout_.size() : 0, 0.0);
  for (const auto& o : groups_) {
    if (!in_loss(o)) continue;
    const auto& c = conditions_[static_cast<std::size_t>(o.condition)];
    if (!c.solved) continue;
    if (opt_.count_likelihood) {
      auto& dx = dl_dx[static_cast<std::size_t>(o.condition)];
      if (gradient && dx.empty()) dx.assign(N, 0.0);
      cells += o.cells;
      loss += count_term(o, c.x, gradient ? &dx : nullptr, &size_grad, &dropout_grad);
      continue;
    }
    std::vector<double>* dx = whole_dl_dx ? &dl_dx[static_cast<std::size_t>(o.condition)] : nullptr;
    if (dx && dx->empty()) dx->assign(N, 0.0);  // latent nodes: not observed
    if (chunked_dl_dx) loss_groups[static_cast<std::size_t>(o.condition)].push_back(static_cast<int>(&o - groups_.data()));
    cells += o.cells;
    loss += o.cells * squared_residual(o, c.x, dx ? dx->data() : nullptr) / static_cast<double>(G);
  }
  // Its gradient is summed with the data term's, which is divided by the cells at the end.
  if (fits_abundance())
    abundance_term(batches, value, gradient ? &dl_dx : nullptr, comm_.sum(cells), gradient ? &fitness_grad : nullptr);
  std::vector<double> reduced{cells,
                              loss,
                              static_cast<double>(failed),
                              static_cast<double>(value.steady_states),
                              static_cast<double>(value.fallbacks),
                              static_cast<double>(value.time_courses),
                              0.0};
  const std::size_t head = reduced.size();
  if (gradient) {
    solvers::ParameterGradient g(params_);
    double kappa_grad = 0;
    std::int64_t iterations = 0;
    std::vector<double> coupling_grad(coupling_.gamma.size(), 0.0);
    if (opt_.niche) {
      kappa_grad = coupled_gradient(dl_dx, g, coupling_grad);
    } else {
      // Each rank's adjoints are its own: agree_on_failure.
      std::string failure;
      try {
        std::vector<int> adjoints;  // the steady-state conditions with a data-term gradient (time courses: below)
        for (std::size_t i = 0; i < conditions_.size(); ++i)
          if ((chunked_dl_dx ? !loss_groups[i].empty() : !dl_dx[i].empty()) && conditions_[i].trajectory < 0)
            adjoints.push_back(static_cast<int>(i));
        // Chunks of whole solver batches: the batched adjoint sees the same batches either way.
        const std::size_t chunk =
            chunked_dl_dx ? static_cast<std::size_t>(std::max(1, opt_.adjoint_chunk_batches) * std::max(1, opt_.batch_size))
                          : std::max<std::size_t>(1, adjoints.size());
        solvers::SteadyStateProblem steady(*field_, opt_.steady, opt_.batch_size);
        std::vector<std::vector<double>> chunk_dl_dx;
        for (std::size_t begin = 0; begin < adjoints.size(); begin += chunk) {
          const std::size_t end = std::min(adjoints.size(), begin + chunk);
          std::vector<const model::Condition*> conds;
          std::vector<const std::vector<double>*> xs, rhs;
          chunk_dl_dx.resize(chunked_dl_dx ? end - begin : 0);
          for (std::size_t k = begin; k < end; ++k) {
            const auto i = static_cast<std::size_t>(adjoints[k]);
            conds.push_back(&conditions_[i].condition), xs.push_back(&conditions_[i].x);
            if (!chunked_dl_dx) {
              rhs.push_back(&dl_dx[i]);
              continue;
            }
            auto& dx = chunk_dl_dx[k - begin];
            dx.assign(N, 0.0);
            for (int h : loss_groups[i]) squared_residual(groups_[static_cast<std::size_t>(h)], conditions_[i].x, dx.data());
            rhs.push_back(&dx);
          }
          std::vector<std::vector<double>> knock_grads;
          iterations += steady.accumulate_gradient(conds, xs, rhs, opt_.adjoint_rtol, g, &knock_grads);
          for (std::size_t k = 0; k < knock_grads.size(); ++k) kappa_grad += kappa_gradient(*conds[k], knock_grads[k]);
        }
        if (time_course()) kappa_grad += time_course_gradient(dl_dx, g);
      } catch (const NumericalError& e) {
        failure = e.what();
      }
      agree_on_failure(failure);
    }
    reduced[head - 1] = static_cast<double>(iterations);
    const auto flat = g.flatten();
    reduced.insert(reduced.end(), flat.begin(), flat.end());
    reduced.push_back(kappa_grad);
    reduced.insert(reduced.end(), coupling_grad.begin(), coupling_grad.end());
    reduced.insert(reduced.end(), fitness_grad.begin(), fitness_grad.end());
    reduced.insert(reduced.end(), size_grad.begin(), size_grad.end());
    reduced.insert(reduced.end(), dropout_grad.begin(), dropout_grad.end());
  }
  comm_.replicated_sum_in_place(reduced);
  const double n = reduced[0];
  if (!(n > 0))
    throw NumericalError("no training group could be evaluated (every steady state failed or the selection is empty)");
  value.data = reduced[1] / n;
  value.failed_steady_states = static_cast<std::int64_t>(reduced[2]);
  value.steady_states = static_cast<std::int64_t>(reduced[3]);
  value.fallbacks = static_cast<std::int64_t>(reduced[4]);
  value.time_courses = static_cast<std::int64_t>(reduced[5]);
  value.adjoint_iterations = static_cast<std::int64_t>(reduced[6]);
  if (gradient) {
    gradient->assign(reduced.begin() + static_cast<long>(head), reduced.end());
    for (auto& v : *gradient) v /= n;
  }

  if (opt_.lambda_ss > 0) steady_state_term(used_references, value, gradient);
  regularisers(value, gradient);
  value.total = value.data + value.steady_state + value.abundance + value.l1 + value.l2;
  if (gradient) {  // from (W, c) to (W, c-bar): dL/dW at fixed c-bar = dL/dW - dL/dc of its row
    const ThetaLayout L = layout();
    auto& gr = *gradient;
    for (std::size_t g = 0; g < static_cast<std::size_t>(params_.genes); ++g)
      for (auto k = params_.W.row_ptr[g]; k < params_.W.row_ptr[g + 1]; ++k)
        gr[L.W + static_cast<std::size_t>(k)] -= gr[L.c + g];
  }
  return value;
}

void FitProblem::agree_on_failure(const std::string& failure) const {
  if (comm_.max(failure.empty() ? 0.0 : 1.0) > 0)
    throw NumericalError(failure.empty() ? "a solve failed on another rank" : failure);
}

double FitProblem::kappa_gradient(const model::Condition& condition, const std::vector<double>& knock_grad) const {
  double sum = 0.0;
  for (std::size_t i = 0; i < knock_grad.size(); ++i)
    if (!is_shared(condition.knock[i].first)) sum += knock_grad[i];
  return sum;
}

void FitProblem::steady_state_term(const std::vector<char>& used, LossValue& value,
                                   std::vector<double>* gradient) const {
  // Computed on the root and broadcast, so that every rank adds bit-identical values.
  const auto G = static_cast<std::size_t>(measured_genes()), N = static_cast<std::size_t>(params_.genes);
  const double eps = opt_.pseudocount;
  double ss = 0;
  solvers::ParameterGradient g(params_);
  if (comm_.is_root()) {
    double ref_cells = 0;
    for (std::size_t r = 0; r < references_.size(); ++r)
      if (used[r]) ref_cells += references_[r].cells;
    std::vector<double> z, f(N), w(N, 0.0), lambda;
    std::unique_ptr<solvers::SteadyStateAdjoint> adjoint;
    for (std::size_t r = 0; r < references_.size(); ++r) {
      if (!used[r]) continue;
      const auto& ref = references_[r];
      const auto& control = conditions_[static_cast<std::size_t>(ref.condition)];
      // The observed state of the measured genes; latent nodes, which nothing observes,
      // at the model's own control steady state (so the term depends on theta through them).
      z = ref.state;
      if (N > G) {
        if (!control.solved) continue;  // counted among the failed steady states
        std::copy(control.x.begin() + static_cast<long>(G), control.x.end(), z.begin() + static_cast<long>(G));
      }
      field_->evaluate(z.data(), control.condition, kInf, f.data());
      const double weight = opt_.lambda_ss * ref.cells / ref_cells / static_cast<double>(G);
      for (std::size_t q = 0; q < G; ++q) {           // residuals of the measured genes only, relative to the level
        const double level = eps / scale_[q] + z[q];  // (eps + x) in model units
        const double rq = f[q] / level;
        ss += weight * rq * rq;
        w[q] = 2.0 * weight * rq / level;
      }
      if (!gradient) continue;
      solvers::add_parameter_vjp(*field_, control.condition, z, w, g);
      if (N == G) continue;
      // Through the latent part of the control steady state: dl/dx*_l = (J(z)^T w)_l, then
      // one adjoint solve at x* (implicit function theorem, as for the data term).
      model::Linearization lin;
      field_->linearize(z.data(), control.condition, kInf, lin);
      std::vector<double> dl_dx(N);
      field_->jtvp(lin, w.data(), dl_dx.data());
      std::fill(dl_dx.begin(), dl_dx.begin() + static_cast<long>(G), 0.0);
      if (!adjoint) adjoint = std::make_unique<solvers::SteadyStateAdjoint>(*field_, opt_.adjoint_rtol);
      adjoint->solve(control.condition, control.x, dl_dx, lambda);
      for (auto& l : lambda) l = -l;
      solvers::add_parameter_vjp(*field_, control.condition, control.x, lambda, g);
    }
  }
  std::vector<double> shared{ss};
  if (gradient) {
    const auto flat = g.flatten();
    shared.insert(shared.end(), flat.begin(), flat.end());
  }
  comm_.replicated_sum_in_place(shared);
  value.steady_state = shared[0];
  if (gradient)
    for (std::size_t i = 1; i < shared.size(); ++i) (*gradient)[i - 1] += shared[i];
}

// Per measured gene, like the data term (a mean over genes): a weight costs the same
// relative to the data it explains whatever the number of genes. The penalties are on the
// network (W), not on the shared response's out-weights: those are a dense programme
// estimated from every training group, not sparse regulatory edges; nor on the intercepts
// (c, and U: a gene's activation in each medium).
void FitProblem::regularisers(LossValue& value, std::vector<double>* gradient) const {
  const ThetaLayout L = layout();
  const double s = opt_.l1_smoothing, per_gene = 1.0 / static_cast<double>(measured_genes());
  const double l1 = opt_.lambda_l1 * per_gene, l2 = opt_.lambda_l2 * per_gene;
  for (std::size_t e = 0; e < params_.W.val.size(); ++e) {
    if (is_shared(params_.W.col[e])) continue;
    const double w = params_.W.val[e], root = std::sqrt(w * w + s * s);
    value.l1 += l1 * (root - s), value.l2 += l2 * w * w;
    if (gradient) (*gradient)[L.W + e] += l1 * w / root + 2.0 * l2 * w;
  }
  const double l1_fitness = opt_.lambda_fitness_l1 * per_gene;
  for (std::size_t n = 0; fits_abundance_ && n < params_.fitness.size(); ++n) {
    const double f = params_.fitness[n], root = std::sqrt(f * f + s * s);
    value.l1 += l1_fitness * (root - s);
    if (gradient) (*gradient)[L.fitness + n] += l1_fitness * f / root;
  }
  if (l2 == 0) return;
  auto ridge = [&](const std::vector<double>& part, std::size_t offset) {
    for (std::size_t i = 0; i < part.size(); ++i) {
      value.l2 += l2 * part[i] * part[i];
      if (gradient) (*gradient)[offset + i] += 2.0 * l2 * part[i];
    }
  };
  ridge(params_.A, L.A);  // not the intercepts c, U
  ridge(params_.Q, L.Q);  // v and a common shift of Q's one-hot columns are one product: the ridge picks v
  ridge(params_.B, L.B), ridge(params_.C, L.C), ridge(params_.d, L.d);
  ridge(coupling_.gamma, L.coupling);  // with U, only their product is identifiable: the ridge fixes the scale
  if (fits_abundance_) ridge(params_.fitness, L.fitness);  // more nodes than observed changes
}

bool FitProblem::informative(int perturbation) const {
  return informative_targets(data_.perturbations()[static_cast<std::size_t>(perturbation)].target_nodes);
}

bool FitProblem::informative_targets(const std::vector<int>& target_nodes) const {
  for (int t : target_nodes)
    if (t >= 0 && (t < measured_genes() || read_[static_cast<std::size_t>(t)])) return true;
  return false;
}

std::vector<double> FitProblem::validation_losses(const std::vector<double>& theta) {
  set_point(theta);
  const auto G = static_cast<std::size_t>(measured_genes());
  const auto& perts = data_.perturbations();
  auto validated = [&](const ObservedGroup& o) {
    return o.owned && o.split == Split::kValidation && o.condition >= 0 && !o.heldout_time &&
           !perts[static_cast<std::size_t>(o.perturbation)].control;
  };
  std::vector<int> which;
  for (const auto& o : groups_)
    if (validated(o)) which.push_back(o.condition);
  std::sort(which.begin(), which.end());
  which.erase(std::unique(which.begin(), which.end()), which.end());
  const auto mode = warm_start_;
  warm_start_ = WarmStart::kLastSolution;  // i.e. from the cold start set here
  if (opt_.niche) {  // every group and the niche from cold starts (the niche needs every group)
    const auto kept = niche_;
    for (auto& c : conditions_) c.x = references_[static_cast<std::size_t>(c.reference)].state;
    niche_ = {};
    if (solve_coupled(nullptr, false, false) > 0)
      for (auto& c : conditions_) c.solved = false;  // every validation loss is NaN: the niche failed
    niche_ = kept;
  } else {
    for (int i : which) {
      auto& c = conditions_[static_cast<std::size_t>(i)];
      c.x = references_[static_cast<std::size_t>(c.reference)].state;
    }
    solve(which, nullptr, false);
  }
  warm_start_ = mode;
  std::vector<double> losses;
  for (const auto& o : groups_) {
    if (!validated(o)) continue;
    const auto& c = conditions_[static_cast<std::size_t>(o.condition)];
    if (!c.solved) {
      losses.push_back(std::numeric_limits<double>::quiet_NaN());
      continue;
    }
    if (opt_.count_likelihood) {  // the held-out cells' likelihood: what the fit maximises
      losses.push_back(count_term(o, c.x, nullptr, nullptr, nullptr) / o.cells);
      continue;
    }
    losses.push_back(squared_residual(o, c.x, nullptr) / static_cast<double>(G));
  }
  return comm_.all_gather(losses);
}

std::int64_t FitProblem::solve_all(bool check_stability) {
  if (opt_.niche) return solve_coupled(nullptr, check_stability, true);
  std::vector<int> which(conditions_.size());
  for (std::size_t i = 0; i < which.size(); ++i) which[i] = static_cast<int>(i);
  return comm_.sum(solve(which, nullptr, check_stability));
}

double FitProblem::squared_residual(const ObservedGroup& o, const std::vector<double>& x, double* dx) const {
  const auto G = static_cast<std::size_t>(measured_genes());
  const double eps = opt_.pseudocount;
  const double* delta = o.control >= 0 ? groups_[static_cast<std::size_t>(o.control)].delta.data() : nullptr;
  double sq = 0;
  for (std::size_t g = 0; g < G; ++g) {
    const double z = scale_[g] * x[g];
    const double r = std::log(eps + z) + (delta ? delta[g] : 0.0) - o.y[g];
    sq += r * r;
    if (dx) dx[g] += o.cells * 2.0 * r * scale_[g] / (static_cast<double>(G) * (eps + z));
  }
  return sq;
}

std::vector<double> FitProblem::predict(const ObservedGroup& o) const {
  const auto& c = conditions_[static_cast<std::size_t>(o.condition)];
  if (!c.solved) return {};
  std::vector<double> y(static_cast<std::size_t>(measured_genes()));  // the measurement sees measured genes only
  const double* delta = o.control >= 0 ? groups_[static_cast<std::size_t>(o.control)].delta.data() : nullptr;
  for (std::size_t g = 0; g < y.size(); ++g)
    y[g] = std::log(opt_.pseudocount + scale_[g] * c.x[g]) + (delta ? delta[g] : 0.0);
  return y;
}

std::vector<double> FitProblem::predicted_generic(const ObservedGroup& o) const {
  const auto& c = conditions_[static_cast<std::size_t>(o.generic)];
  if (!c.solved) return {};
  std::vector<double> y(static_cast<std::size_t>(measured_genes()));
  const double* delta = o.control >= 0 ? groups_[static_cast<std::size_t>(o.control)].delta.data() : nullptr;
  for (std::size_t g = 0; g < y.size(); ++g)
    y[g] = std::log(opt_.pseudocount + scale_[g] * c.x[g]) + (delta ? delta[g] : 0.0);  // as predict(o)
  return y;
}

}  // namespace perturbfit::fit
