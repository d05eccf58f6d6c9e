#include "perturbfit/fit/problem.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "perturbfit/core/error.hpp"
#include "perturbfit/core/random.hpp"
#include "perturbfit/fit/support.hpp"
#include "perturbfit/solvers/adjoint.hpp"
#include "perturbfit/solvers/batched_adjoint.hpp"
#include "perturbfit/solvers/batched_steady_state.hpp"
#include "perturbfit/solvers/steady_state.hpp"

namespace perturbfit::fit {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kUnbounded = 1e20;  // PETSc's PETSC_INFINITY threshold is 1e20 as well

struct Layout {  // offsets of the parts of theta (pack_parameters order, then kappa)
  std::size_t W, U, c, v, beta, gamma, A, B, C, d, kappa, size;
  explicit Layout(const model::ModelParameters& p) {
    W = 0, U = W + p.W.val.size(), c = U + p.U.size(), v = c + p.c.size(), beta = v + p.v.size();
    gamma = beta + p.beta.size(), A = gamma + p.gamma.size(), B = A + p.A.size(), C = B + p.B.size();
    d = C + p.C.size(), kappa = d + p.d.size(), size = kappa + 1;
  }
};
}  // namespace

FitProblem::FitProblem(const parallel::Comm& comm, const data::ScreenData& data, const FitOptions& options,
                       std::vector<std::vector<double>> media, const Reporter& reporter)
    : comm_(comm), data_(data), opt_(options), reporter_(reporter) {
  if (data.times().size() > 1)
    reporter_.warn("the screen has " + std::to_string(data.times().size()) +
                   " time points; fit treats every group as at its steady state (time-course fitting with the CVODES "
                   "adjoint is not implemented), and each time point keeps its own groups and controls");
  splits_ = assign_splits(data.perturbations(), opt_.validation_fraction, opt_.test_fraction, opt_.split_seed);
  build_groups(media);
  std::int64_t perturbed_training = 0, excluded = 0;
  for (const auto& g : groups_)
    perturbed_training += g.owned && g.split == Split::kTrain && g.condition >= 0 &&
                          !data.perturbations()[static_cast<std::size_t>(g.perturbation)].control;
  for (const auto& p : data.perturbations()) excluded += p.excluded;
  if (comm_.sum(perturbed_training) == 0)
    throw DataError("no perturbed group is left to train on (" + std::to_string(excluded) +
                    " perturbation(s) excluded by data.missing_targets = skip, the others in validation or test): "
                    "nothing to fit; use data.missing_targets = \"latent\" or a smaller "
                    "fit.test_fraction / fit.validation_fraction");
  std::vector<const double*> training_rows;
  for (const auto& g : groups_)
    if (g.owned && g.split == Split::kTrain) training_rows.push_back(g.y.data());
  params_.W = support_pattern(opt_, data.genes(), data.latent_targets(), latent_response(), training_rows, comm_,
                              reporter_);
  initialise_parameters();
  set_point(initial_point());
}

FitProblem::~FitProblem() = default;

void FitProblem::build_groups(const std::vector<std::vector<double>>& media) {
  const auto stats = data_.statistics();
  const auto G = static_cast<std::size_t>(stats.genes);
  const double eps = opt_.pseudocount;
  const auto& all = data_.groups();
  const auto& perts = data_.perturbations();
  std::map<int, int> index_of_group;
  for (std::size_t h = 0; h < stats.groups.size(); ++h) {
    const auto& gr = all[static_cast<std::size_t>(stats.groups[h])];
    const auto p = static_cast<std::size_t>(gr.perturbation);
    if (perts[p].excluded || gr.cells == 0) continue;
    ObservedGroup o;
    o.group = stats.groups[h];
    o.perturbation = gr.perturbation;
    o.batch = gr.batch;
    o.cells = static_cast<double>(gr.cells);
    o.split = splits_[p];
    o.owned = data_.owned().contains(p);
    o.y.resize(G);
    const double* lin = stats.sum_linear_row(h);
    for (std::size_t g = 0; g < G; ++g) o.y[g] = std::log(eps + lin[g] / o.cells);
    index_of_group[o.group] = static_cast<int>(groups_.size());
    groups_.push_back(std::move(o));
  }
  // Control references: one per (medium, time) of the control groups.
  std::map<std::pair<int, int>, int> ref_of;
  for (std::size_t i = 0; i < groups_.size(); ++i) {
    const auto& gr = all[static_cast<std::size_t>(groups_[i].group)];
    if (!perts[static_cast<std::size_t>(gr.perturbation)].control) continue;
    const auto key = std::make_pair(gr.medium, gr.time);
    if (!ref_of.count(key)) {
      ref_of[key] = static_cast<int>(references_.size());
      references_.push_back(ControlReference{gr.medium, gr.time, 0.0, -1, std::vector<double>(G, 0.0)});
    }
    groups_[i].reference = ref_of[key];
    groups_[i].control = static_cast<int>(i);
  }
  if (references_.empty())
    throw DataError("the screen has no control cells: the fit contrasts every perturbation with controls of its batch");
  // Mean control profile per reference (unweighted over batches), offsets, de-noised states.
  std::vector<int> count(references_.size(), 0);
  for (const auto& o : groups_)
    if (o.control >= 0) {
      auto& ref = references_[static_cast<std::size_t>(o.reference)];
      for (std::size_t g = 0; g < G; ++g) ref.xtilde[g] += o.y[g];
      ref.cells += o.cells;
      ++count[static_cast<std::size_t>(o.reference)];
    }
  for (std::size_t r = 0; r < references_.size(); ++r)
    for (auto& v : references_[r].xtilde) v /= count[r];  // mean log profile for now
  for (auto& o : groups_)
    if (o.control >= 0) {
      const auto& mean = references_[static_cast<std::size_t>(o.reference)].xtilde;
      o.delta.resize(G);
      for (std::size_t g = 0; g < G; ++g) o.delta[g] = o.y[g] - mean[g];
    }
  for (auto& ref : references_) {
    for (auto& v : ref.xtilde) v = std::max(std::exp(v) - eps, 0.0);
    // Latent nodes: their level is unobserved and only its product with their out-weights
    // matters, so they start at a typical level, the median of the measured genes.
    auto sorted = ref.xtilde;
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<long>(G / 2), sorted.end());
    ref.xtilde.resize(G + data_.latent_targets().size(), std::max(sorted[G / 2], 1e-3));
  }
  // Perturbed groups: their batch's control group and its reference.
  int uncontrolled = 0;
  for (auto& o : groups_) {
    if (perts[static_cast<std::size_t>(o.perturbation)].control) continue;
    const auto& gr = all[static_cast<std::size_t>(o.group)];
    const auto it = index_of_group.find(gr.control_group);
    if (it != index_of_group.end()) {
      o.control = it->second;
      o.reference = groups_[static_cast<std::size_t>(it->second)].reference;
    } else {
      const auto key = std::make_pair(gr.medium, gr.time);
      if (ref_of.count(key)) o.reference = ref_of[key];
      else {
        for (const auto& [k, r] : ref_of)
          if (k.first == gr.medium) o.reference = r;
      }
      if (o.reference < 0)
        throw DataError("perturbation '" + perts[static_cast<std::size_t>(o.perturbation)].label + "' in medium '" +
                        data_.media()[static_cast<std::size_t>(gr.medium)] +
                        "' has no control cells in that medium; the fit has no reference state for it");
      if (o.owned) ++uncontrolled;
    }
  }
  const auto total_uncontrolled = comm_.sum(static_cast<std::int64_t>(uncontrolled));
  if (total_uncontrolled > 0)
    reporter_.warn(std::to_string(total_uncontrolled) +
                   " groups have no controls in their batch; their batch offset is taken as zero (biased)");
  // Conditions: one control condition per medium (every rank), one per owned (perturbation, medium).
  auto medium_vector = [&](int m) {
    return m < static_cast<int>(media.size()) ? media[static_cast<std::size_t>(m)] : std::vector<double>{};
  };
  std::map<std::pair<int, int>, int> cond_of;
  auto condition_for = [&](int perturbation, int medium, int reference) {
    const auto key = std::make_pair(perturbation, medium);
    if (cond_of.count(key)) return cond_of[key];
    ConditionState c;
    c.perturbation = perturbation;
    c.control = perts[static_cast<std::size_t>(perturbation)].control;
    c.condition.medium = medium_vector(medium);
    for (int t : perts[static_cast<std::size_t>(perturbation)].target_nodes)
      if (t >= 0) c.condition.knock.emplace_back(t, opt_.kappa);
    c.reference = reference;
    c.x = references_[static_cast<std::size_t>(reference)].xtilde;
    cond_of[key] = static_cast<int>(conditions_.size());
    conditions_.push_back(std::move(c));
    return cond_of[key];
  };
  for (auto& ref : references_) ref.condition = condition_for(0, ref.medium, static_cast<int>(&ref - references_.data()));
  for (auto& o : groups_) {
    const auto& gr = all[static_cast<std::size_t>(o.group)];
    if (perts[static_cast<std::size_t>(o.perturbation)].control) {
      o.condition = references_[static_cast<std::size_t>(o.reference)].condition;
    } else {
      o.condition = condition_for(o.perturbation, gr.medium, o.reference);
    }
  }
}

std::vector<double> FitProblem::latent_response() const {
  const auto G = static_cast<std::size_t>(measured_genes());
  const auto& perts = data_.perturbations();
  std::vector<double> response(data_.latent_targets().size() * G, 0.0);
  for (const auto& o : groups_) {
    if (!o.owned || o.split != Split::kTrain || o.control < 0 || perts[static_cast<std::size_t>(o.perturbation)].control)
      continue;
    const auto& control = groups_[static_cast<std::size_t>(o.control)].y;
    for (int t : perts[static_cast<std::size_t>(o.perturbation)].target_nodes) {
      if (t < static_cast<int>(G)) continue;
      double* row = response.data() + (static_cast<std::size_t>(t) - G) * G;
      for (std::size_t g = 0; g < G; ++g) row[g] += std::abs(o.y[g] - control[g]);
    }
  }
  comm_.replicated_sum_in_place(response);
  return response;
}

void FitProblem::initialise_parameters() {
  auto& p = params_;
  p.kind = opt_.kind;
  p.gene_names = data_.genes();  // measured genes, then latent nodes
  p.gene_names.insert(p.gene_names.end(), data_.latent_targets().begin(), data_.latent_targets().end());
  p.genes = static_cast<int>(p.gene_names.size());
  p.media = static_cast<int>(conditions_.front().condition.medium.size());
  p.neural_rank = opt_.kind == model::ModelKind::kMechanistic ? 0 : opt_.neural_rank;
  const auto G = static_cast<std::size_t>(p.genes), K = static_cast<std::size_t>(p.media),
             h = static_cast<std::size_t>(p.neural_rank);
  // With W = 0, c = 0: production 0.9 v/1.8 + beta = xtilde, so the control data are the
  // initial control steady state and the first steps start from a consistent model.
  const auto& x0 = references_.front().xtilde;
  p.U.assign(G * K, 0.0);
  p.c.assign(G, 0.0);
  p.gamma.assign(G, 1.0);
  p.v.resize(G), p.beta.resize(G);
  for (std::size_t g = 0; g < G; ++g) p.v[g] = 1.8 * std::max(x0[g], 1e-3), p.beta[g] = 0.1 * std::max(x0[g], 1e-3);
  p.A.assign(G * h, 0.0);
  p.B.resize(h * G);
  RandomStream rng(opt_.seed, StreamDomain::kNeural, 1);
  for (auto& b : p.B) b = 0.1 * rng.normal() / std::sqrt(static_cast<double>(G));
  p.C.assign(h * K, 0.0);
  p.d.assign(h, 0.0);
  p.fitness.assign(G, 0.0);
  kappa_ = opt_.kappa;
  p.validate();
}

std::size_t FitProblem::size() const { return Layout(params_).size; }

std::vector<double> FitProblem::initial_point() const {
  auto theta = model::pack_parameters(params_);
  theta.push_back(kappa_);
  return theta;
}

void FitProblem::bounds(std::vector<double>& lower, std::vector<double>& upper) const {
  const Layout L(params_);
  lower.assign(L.size, -kUnbounded);
  upper.assign(L.size, kUnbounded);
  for (std::size_t i = L.v; i < L.beta; ++i) lower[i] = 1e-8;
  for (std::size_t i = L.beta; i < L.gamma; ++i) lower[i] = 0.0;
  for (std::size_t i = L.gamma; i < L.A; ++i) {
    if (opt_.fit_decay) lower[i] = 1e-3;
    else lower[i] = upper[i] = params_.gamma[i - L.gamma];
  }
  if (opt_.learn_kappa) lower[L.kappa] = opt_.kappa_min, upper[L.kappa] = opt_.kappa_max;
  else lower[L.kappa] = upper[L.kappa] = opt_.kappa;
}

void FitProblem::set_point(const std::vector<double>& theta) {
  if (theta.size() != size())
    throw UsageError("parameter vector has " + std::to_string(theta.size()) + " values, the model " +
                     std::to_string(size()) + " (a checkpoint of another deck or screen?)");
  model::unpack_parameters(theta.data(), params_);
  kappa_ = theta.back();
  for (auto& c : conditions_) {
    for (auto& k : c.condition.knock) k.second = kappa_;
    c.solved = false;
  }
  field_ = std::make_unique<model::VectorField>(params_);
}

void FitProblem::reset_warm_starts() {
  for (auto& c : conditions_) {
    c.x = references_[static_cast<std::size_t>(c.reference)].xtilde;
    c.solved = false;
  }
}

std::int64_t FitProblem::solve(const std::vector<int>& which, LossValue* tally, bool check_stability) {
  auto opt = opt_.steady;
  std::vector<const model::Condition*> conds;
  std::vector<std::vector<double>> xs;
  for (int i : which) {
    conds.push_back(&conditions_[static_cast<std::size_t>(i)].condition);
    xs.push_back(conditions_[static_cast<std::size_t>(i)].x);
  }
  std::vector<solvers::BatchedColumnReport> reports(which.size());
  if (opt_.batch_size > 0 && !which.empty()) {
    solvers::BatchedSteadyStateSolver batched(*field_, opt);
    reports = batched.solve(conds, xs, opt_.batch_size);
  }
  if (check_stability) opt.stability = solvers::StabilityMode::kCheck;
  solvers::SteadyStateSolver snes(*field_, opt);
  std::int64_t failed = 0, fallbacks = 0;
  for (std::size_t k = 0; k < which.size(); ++k) {
    auto& c = conditions_[static_cast<std::size_t>(which[k])];
    c.method = "batched-newton";
    c.newton_iterations = reports[k].newton_iterations;
    if (!reports[k].converged) {
      ++fallbacks;
      const auto& ref = references_[static_cast<std::size_t>(c.reference)].xtilde;
      xs[k] = ref;  // restart from the data, not from a failed iterate
      const auto rep = snes.solve(c.condition, xs[k]);
      c.method = rep.method;
      c.newton_iterations += rep.newton_iterations;
      if (!rep.converged) {
        ++failed;
        c.solved = false;
        c.x = ref;
        continue;
      }
    }
    c.x = std::move(xs[k]);
    c.solved = true;
    if (check_stability) {
      solvers::SteadyStateReport rep;
      snes.assess_stability(c.condition, c.x, rep);
      c.stable = rep.stable;
      c.leading_eigenvalue = rep.leading_eigenvalue;
    }
  }
  if (tally) tally->fallbacks += fallbacks, tally->steady_states += static_cast<std::int64_t>(which.size());
  return failed;
}

LossValue FitProblem::evaluate(const std::vector<double>& theta, std::vector<double>* gradient,
                               const std::vector<int>& batches) {
  set_point(theta);
  const auto G = static_cast<std::size_t>(measured_genes()), N = static_cast<std::size_t>(params_.genes);
  const double eps = opt_.pseudocount;
  auto selected_batch = [&](int b) { return batches.empty() || std::find(batches.begin(), batches.end(), b) != batches.end(); };
  auto in_loss = [&](const ObservedGroup& o) {
    return o.owned && o.split == Split::kTrain && o.condition >= 0 && selected_batch(o.batch);
  };
  std::vector<char> needed(conditions_.size(), 0);
  for (const auto& o : groups_)
    if (in_loss(o)) needed[static_cast<std::size_t>(o.condition)] = 1;
  // References whose control groups are selected: the steady-state term's control states.
  std::vector<char> used_references(references_.size(), 0);
  for (const auto& o : groups_)
    if (o.control >= 0 && &groups_[static_cast<std::size_t>(o.control)] == &o && selected_batch(o.batch))
      used_references[static_cast<std::size_t>(o.reference)] = 1;
  // With latent nodes the term needs the model's control steady state (the root computes it).
  if (opt_.lambda_ss > 0 && N > G && comm_.is_root())
    for (std::size_t r = 0; r < references_.size(); ++r)
      if (used_references[r]) needed[static_cast<std::size_t>(references_[r].condition)] = 1;
  std::vector<int> which;
  for (std::size_t i = 0; i < needed.size(); ++i)
    if (needed[i]) which.push_back(static_cast<int>(i));
  LossValue value;
  const std::int64_t failed = solve(which, &value, false);

  // Data term, unnormalised: sum_k n_k mean_g r^2, and dl/dx* per condition.
  double cells = 0, loss = 0;
  std::vector<std::vector<double>> dl_dx(conditions_.size());
  for (const auto& o : groups_) {
    if (!in_loss(o)) continue;
    const auto& c = conditions_[static_cast<std::size_t>(o.condition)];
    if (!c.solved) continue;
    const double* delta = o.control >= 0 ? groups_[static_cast<std::size_t>(o.control)].delta.data() : nullptr;
    auto& dx = dl_dx[static_cast<std::size_t>(o.condition)];
    if (gradient && dx.empty()) dx.assign(N, 0.0);  // latent nodes: not observed
    cells += o.cells;
    double sq = 0;
    for (std::size_t g = 0; g < G; ++g) {
      const double r = std::log(eps + c.x[g]) + (delta ? delta[g] : 0.0) - o.y[g];
      sq += r * r;
      if (gradient) dx[g] += o.cells * 2.0 * r / (static_cast<double>(G) * (eps + c.x[g]));
    }
    loss += o.cells * sq / static_cast<double>(G);
  }
  std::vector<double> reduced{cells, loss, static_cast<double>(failed), static_cast<double>(value.steady_states),
                              static_cast<double>(value.fallbacks), 0.0};
  const std::size_t head = reduced.size();
  if (gradient) {
    solvers::ParameterGradient g(params_);
    double kappa_grad = 0;
    std::int64_t iterations = 0;
    std::vector<const model::Condition*> conds;
    std::vector<const std::vector<double>*> xs, rhs;
    for (std::size_t i = 0; i < conditions_.size(); ++i) {
      if (dl_dx[i].empty()) continue;
      conds.push_back(&conditions_[i].condition), xs.push_back(&conditions_[i].x), rhs.push_back(&dl_dx[i]);
    }
    std::vector<std::vector<double>> knock_grads;
    if (opt_.batch_size > 0) {  // one pass over W^T per Krylov iteration for a whole batch
      solvers::BatchedSteadyStateAdjoint adjoint(*field_, opt_.adjoint_rtol, opt_.batch_size);
      iterations = adjoint.accumulate(conds, xs, rhs, g, &knock_grads).iterations;
    } else {  // the reference path: one PETSc KSP solve per steady state
      solvers::SteadyStateAdjoint adjoint(*field_, opt_.adjoint_rtol);
      std::vector<double> lambda;
      knock_grads.resize(conds.size());
      for (std::size_t k = 0; k < conds.size(); ++k) {
        iterations += adjoint.solve(*conds[k], *xs[k], *rhs[k], lambda);
        for (auto& l : lambda) l = -l;
        solvers::add_parameter_vjp(*field_, *conds[k], *xs[k], lambda, g, &knock_grads[k]);
      }
    }
    for (const auto& kg : knock_grads)
      for (double k : kg) kappa_grad += k;
    reduced[head - 1] = static_cast<double>(iterations);
    const auto flat = g.flatten();
    reduced.insert(reduced.end(), flat.begin(), flat.end());
    reduced.push_back(kappa_grad);
  }
  comm_.replicated_sum_in_place(reduced);
  const double n = reduced[0];
  if (!(n > 0))
    throw NumericalError("no training group could be evaluated (every steady state failed or the selection is empty)");
  value.data = reduced[1] / n;
  value.failed_steady_states = static_cast<std::int64_t>(reduced[2]);
  value.steady_states = static_cast<std::int64_t>(reduced[3]);
  value.fallbacks = static_cast<std::int64_t>(reduced[4]);
  value.adjoint_iterations = static_cast<std::int64_t>(reduced[5]);
  if (gradient) {
    gradient->assign(reduced.begin() + static_cast<long>(head), reduced.end());
    for (auto& v : *gradient) v /= n;
  }

  if (opt_.lambda_ss > 0) steady_state_term(used_references, value, gradient);
  regularisers(value, gradient);
  value.total = value.data + value.steady_state + value.l1 + value.l2;
  return value;
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
      z = ref.xtilde;
      if (N > G) {
        if (!control.solved) continue;  // counted among the failed steady states
        std::copy(control.x.begin() + static_cast<long>(G), control.x.end(), z.begin() + static_cast<long>(G));
      }
      field_->evaluate(z.data(), control.condition, kInf, f.data());
      const double weight = opt_.lambda_ss * ref.cells / ref_cells / static_cast<double>(G);
      for (std::size_t q = 0; q < G; ++q) {  // residuals of the measured genes only
        const double rq = f[q] / (eps + z[q]);
        ss += weight * rq * rq;
        w[q] = 2.0 * weight * rq / (eps + z[q]);
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

void FitProblem::regularisers(LossValue& value, std::vector<double>* gradient) const {
  const Layout L(params_);
  const double s = opt_.l1_smoothing;
  for (std::size_t e = 0; e < params_.W.val.size(); ++e) {
    const double w = params_.W.val[e], root = std::sqrt(w * w + s * s);
    value.l1 += opt_.lambda_l1 * (root - s);
    if (gradient) (*gradient)[L.W + e] += opt_.lambda_l1 * w / root;
  }
  if (opt_.lambda_l2 == 0) return;
  auto ridge = [&](const std::vector<double>& part, std::size_t offset) {
    for (std::size_t i = 0; i < part.size(); ++i) {
      value.l2 += opt_.lambda_l2 * part[i] * part[i];
      if (gradient) (*gradient)[offset + i] += 2.0 * opt_.lambda_l2 * part[i];
    }
  };
  ridge(params_.W.val, L.W), ridge(params_.U, L.U), ridge(params_.c, L.c), ridge(params_.A, L.A);
  ridge(params_.B, L.B), ridge(params_.C, L.C), ridge(params_.d, L.d);
}

std::int64_t FitProblem::solve_all(bool check_stability) {
  std::vector<int> which(conditions_.size());
  for (std::size_t i = 0; i < which.size(); ++i) which[i] = static_cast<int>(i);
  return comm_.sum(solve(which, nullptr, check_stability));
}

std::vector<double> FitProblem::predict(const ObservedGroup& o) const {
  const auto& c = conditions_[static_cast<std::size_t>(o.condition)];
  if (!c.solved) return {};
  std::vector<double> y(static_cast<std::size_t>(measured_genes()));  // the measurement sees measured genes only
  const double* delta = o.control >= 0 ? groups_[static_cast<std::size_t>(o.control)].delta.data() : nullptr;
  for (std::size_t g = 0; g < y.size(); ++g) y[g] = std::log(opt_.pseudocount + c.x[g]) + (delta ? delta[g] : 0.0);
  return y;
}

std::vector<double> FitProblem::predicted_control(const ObservedGroup& o) const {
  const auto& c = conditions_[static_cast<std::size_t>(references_[static_cast<std::size_t>(o.reference)].condition)];
  if (!c.solved) return {};
  std::vector<double> y(static_cast<std::size_t>(measured_genes()));
  for (std::size_t g = 0; g < y.size(); ++g) y[g] = std::log(opt_.pseudocount + c.x[g]);
  return y;
}

}  // namespace perturbfit::fit
