#include "perturbfit/fit/baselines.hpp"

#include <algorithm>
#include <cmath>

#include "perturbfit/core/random.hpp"
#include "perturbfit/solvers/small_dense.hpp"

namespace perturbfit::fit {

std::vector<double> observed_effect(const FitProblem& problem, const ObservedGroup& o) {
  const auto G = static_cast<std::size_t>(problem.measured_genes());
  std::vector<double> e(G);
  const auto& c = problem.control_group(o.control).y;
  for (std::size_t g = 0; g < G; ++g) e[g] = o.y[g] - c[g];
  return e;
}

namespace {
bool training_perturbed(const FitProblem& problem, const ObservedGroup& o) {
  const auto& perts = problem.data().perturbations();
  return o.owned && o.split == Split::kTrain && o.control >= 0 && o.condition >= 0 && !o.heldout_time &&
         !perts[static_cast<std::size_t>(o.perturbation)].control;
}
const std::vector<int>& targets_of(const FitProblem& problem, const ObservedGroup& o) {
  return problem.data().perturbations()[static_cast<std::size_t>(o.perturbation)].target_nodes;
}
}  // namespace

Baselines::Baselines(const FitProblem& problem, const parallel::Comm& comm)
    : problem_(problem), G_(static_cast<std::size_t>(problem.measured_genes())) {
  estimate_means_and_linear(comm);
  estimate_pca_linear(comm);
}

bool Baselines::all_measured(const std::vector<int>& targets) const {
  return !targets.empty() &&
         std::all_of(targets.begin(), targets.end(), [&](int t) { return t >= 0 && static_cast<std::size_t>(t) < G_; });
}

void Baselines::estimate_means_and_linear(const parallel::Comm& comm) {
  const auto& perts = problem_.data().perturbations();
  const auto& splits = problem_.splits();
  // Targets keyed by model node (measured genes first): for the linear baseline those of
  // held-out perturbations and of combinations, for the additive one those of
  // combinations. Never a dense G x G table.
  for (std::size_t p = 0; p < perts.size(); ++p) {
    const bool combination = perts[p].target_nodes.size() > 1;
    if (splits[p] != Split::kTrain || combination)
      for (int t : perts[p].target_nodes)
        if (t >= 0 && !index_.count(t)) index_[t] = targets_.size(), targets_.push_back(t);
    if (combination)
      for (int t : perts[p].target_nodes)
        if (t >= 0 && !single_index_.count(t)) {
          const auto row = single_index_.size();
          single_index_[t] = row;
        }
  }
  const std::size_t T = targets_.size(), S = single_index_.size(), R = problem_.references().size();
  // Each sum is reduced where it is accumulated: no second copy of the S x G table. The
  // targets x genes covariances are for_each_linear's, a block at a time.
  single_sum_.assign(S * G_, 0.0), single_count_.assign(S, 0.0);
  target_sum_.assign(T, 0.0), target_sq_.assign(T, 0.0);
  gene_sum_.assign(G_, 0.0), context_sum_.assign(R * G_, 0.0), context_count_.assign(R, 0.0);
  std::vector<double> scalars(3, 0.0);  // groups, on-target sum, on-target count
  for (const auto& o : problem_.groups()) {
    if (!training_perturbed(problem_, o)) continue;
    const auto e = observed_effect(problem_, o);
    const auto& ts = targets_of(problem_, o);
    const int t = ts.size() == 1 ? ts[0] : -1;
    if (t >= 0 && static_cast<std::size_t>(t) < G_) scalars[1] += e[static_cast<std::size_t>(t)], scalars[2] += 1;
    if (const auto it = single_index_.find(t); t >= 0 && it != single_index_.end()) {
      for (std::size_t g = 0; g < G_; ++g) single_sum_[it->second * G_ + g] += e[g];
      single_count_[it->second] += 1;
    }
    for (std::size_t i = 0; i < T; ++i) {
      if (static_cast<std::size_t>(targets_[i]) >= G_) continue;
      const double et = e[static_cast<std::size_t>(targets_[i])];
      target_sum_[i] += et, target_sq_[i] += et * et;
    }
    const auto r = static_cast<std::size_t>(o.reference);
    for (std::size_t g = 0; g < G_; ++g) gene_sum_[g] += e[g], context_sum_[r * G_ + g] += e[g];
    scalars[0] += 1, context_count_[r] += 1;
  }
  for (auto* v :
       {&single_sum_, &single_count_, &target_sum_, &target_sq_, &gene_sum_, &context_sum_, &context_count_, &scalars})
    comm.replicated_sum_in_place(*v);
  groups_ = scalars[0];
  on_target_ = scalars[2] > 0 ? scalars[1] / scalars[2] : 0.0;
}

void Baselines::estimate_pca_linear(const parallel::Comm& comm) {
  // Centred training effects c_k = e_k - (its context's mean training effect), formed when
  // used: a stored copy would be another groups x genes array.
  std::vector<const ObservedGroup*> source;
  for (const auto& o : problem_.groups())
    if (training_perturbed(problem_, o)) source.push_back(&o);
  std::vector<std::vector<double>> context_mean(context_count_.size());
  for (std::size_t r = 0; r < context_mean.size(); ++r) context_mean[r] = train_mean(static_cast<int>(r));
  std::vector<double> c(G_);
  auto centred = [&](const ObservedGroup& o) -> const std::vector<double>& {
    const auto& y = o.y;
    const auto& control = problem_.control_group(o.control).y;
    const auto& b = context_mean[static_cast<std::size_t>(o.reference)];
    for (std::size_t g = 0; g < G_; ++g) c[g] = (y[g] - control[g]) - b[g];
    return c;
  };
  const auto K =
      static_cast<std::size_t>(std::min<double>(kComponents, comm.sum(static_cast<std::int64_t>(source.size()))));
  components_ = static_cast<int>(K);
  if (K == 0) return;
  // Subspace iteration Q <- orth(C C^T Q): each rank adds its groups' c_k (c_k^T Q).
  embedding_.resize(G_ * K);
  for (std::size_t g = 0; g < G_; ++g) {
    RandomStream rng(1, StreamDomain::kBaseline, g);
    for (std::size_t j = 0; j < K; ++j) embedding_[g * K + j] = rng.normal();
  }
  solvers::orthonormalize_columns(static_cast<int>(G_), static_cast<int>(K), embedding_);
  std::vector<double> z(G_ * K), proj(K);
  for (int it = 0; it < 20; ++it) {
    std::fill(z.begin(), z.end(), 0.0);
    for (const auto* o : source) {
      const auto& ck = centred(*o);
      std::fill(proj.begin(), proj.end(), 0.0);
      for (std::size_t g = 0; g < G_; ++g)
        for (std::size_t j = 0; j < K; ++j) proj[j] += ck[g] * embedding_[g * K + j];
      for (std::size_t g = 0; g < G_; ++g)
        for (std::size_t j = 0; j < K; ++j) z[g * K + j] += ck[g] * proj[j];
    }
    comm.replicated_sum_in_place(z);
    embedding_.swap(z);
    solvers::orthonormalize_columns(static_cast<int>(G_), static_cast<int>(K), embedding_);
  }
  // W = (G^T G + l)^-1 G^T C P (P^T P + l)^-1 over the groups whose targets are all measured;
  // G^T G = I. Reduced: M = sum_k (G^T c_k) p_k^T and S = sum_k p_k p_k^T (K x K each).
  std::vector<double> MS(2 * K * K, 0.0), p(K);
  for (const auto* o : source) {
    const auto& ts = targets_of(problem_, *o);
    if (!all_measured(ts)) continue;
    const auto& ck = centred(*o);
    std::fill(p.begin(), p.end(), 0.0);
    for (int t : ts)
      for (std::size_t j = 0; j < K; ++j) p[j] += embedding_[static_cast<std::size_t>(t) * K + j];
    std::fill(proj.begin(), proj.end(), 0.0);
    for (std::size_t g = 0; g < G_; ++g)
      for (std::size_t j = 0; j < K; ++j) proj[j] += ck[g] * embedding_[g * K + j];
    for (std::size_t i = 0; i < K; ++i)
      for (std::size_t j = 0; j < K; ++j) MS[i * K + j] += proj[i] * p[j], MS[K * K + i * K + j] += p[i] * p[j];
  }
  comm.replicated_sum_in_place(MS);
  std::vector<double> S(MS.begin() + static_cast<long>(K * K), MS.end()), Wt(K * K);
  for (std::size_t i = 0; i < K; ++i) S[i * K + i] += kRidge;
  for (std::size_t i = 0; i < K; ++i)  // (S + l) W^T = M^T, S symmetric
    for (std::size_t j = 0; j < K; ++j) Wt[i * K + j] = MS[j * K + i] / (1.0 + kRidge);
  solvers::solve_spd(static_cast<int>(K), S, Wt, static_cast<int>(K));
  weights_.resize(K * K);
  for (std::size_t i = 0; i < K; ++i)
    for (std::size_t j = 0; j < K; ++j) weights_[i * K + j] = Wt[j * K + i];
}

std::vector<double> Baselines::train_mean(int reference) const {
  const auto r = static_cast<std::size_t>(reference);
  const double n = context_count_[r];
  if (!(n > 0)) return {};
  std::vector<double> e(G_);
  for (std::size_t g = 0; g < G_; ++g) e[g] = context_sum_[r * G_ + g] / n;
  return e;
}

std::vector<double> Baselines::additive(const ObservedGroup& o) const {
  const auto& ts = targets_of(problem_, o);
  if (ts.size() < 2) return {};
  std::vector<double> e(G_, 0.0);
  for (int t : ts) {
    const auto it = single_index_.find(t);
    if (it == single_index_.end() || single_count_[it->second] == 0) return {};
    for (std::size_t g = 0; g < G_; ++g) e[g] += single_sum_[it->second * G_ + g] / single_count_[it->second];
  }
  return e;
}

void Baselines::for_each_linear(const parallel::Comm& comm, const std::vector<const ObservedGroup*>& groups,
                                const std::function<void(const ObservedGroup&, const std::vector<double>&)>& each,
                                std::size_t targets_per_block) const {
  const std::size_t T = targets_.size();
  // The groups it predicts, with the rows of their targets; a group is handed out after the
  // block holding its last target (combinations add up their targets' terms until then).
  struct Pending {
    const ObservedGroup* group;
    std::vector<std::size_t> rows;  // a target named twice counts twice, as in the sum
    std::size_t remaining = 0;      // rows not yet added
    std::vector<double> effect;     // allocated at the group's first block
  };
  std::vector<Pending> pending;
  std::vector<std::vector<std::size_t>> waiting(T);  // target row -> indices into pending
  if (groups_ >= 2)
    for (const auto* o : groups) {
      const auto& ts = targets_of(problem_, *o);
      if (!all_measured(ts)) continue;
      Pending p{o, {}, 0, {}};
      for (int t : ts)
        if (const auto it = index_.find(t); it != index_.end()) p.rows.push_back(it->second);
      if (p.rows.size() != ts.size()) continue;
      p.remaining = p.rows.size();
      for (auto row : p.rows) waiting[row].push_back(pending.size());
      pending.push_back(std::move(p));
    }
  std::vector<const ObservedGroup*> training;
  for (const auto& o : problem_.groups())
    if (training_perturbed(problem_, o)) training.push_back(&o);
  // Shrinkage on the scale of a knockdown: a target that barely varies across the training
  // groups gets a small slope, not an exploding one.
  const double ridge = 0.1 * on_target_ * on_target_ + 1e-9;
  std::vector<double> cross;
  const std::size_t step = std::max<std::size_t>(1, targets_per_block);
  for (std::size_t begin = 0; begin < T; begin += step) {  // T is the same on every rank
    const std::size_t end = std::min(T, begin + step);
    cross.assign((end - begin) * G_, 0.0);
    // Each training effect is formed again for every block (T / 64 times, a small share of
    // the block's products): kept, they would be a training groups x genes array.
    for (const auto* o : training) {
      const auto e = observed_effect(problem_, *o);
      for (std::size_t i = begin; i < end; ++i) {
        if (static_cast<std::size_t>(targets_[i]) >= G_) continue;
        const double et = e[static_cast<std::size_t>(targets_[i])];
        double* row = cross.data() + (i - begin) * G_;
        for (std::size_t g = 0; g < G_; ++g) row[g] += et * e[g];
      }
    }
    comm.replicated_sum_in_place(cross);
    for (std::size_t i = begin; i < end; ++i) {
      const double mt = target_sum_[i] / groups_, var = target_sq_[i] / groups_ - mt * mt;
      const double* row = cross.data() + (i - begin) * G_;
      for (const auto k : waiting[i]) {
        auto& p = pending[k];
        if (p.effect.empty()) p.effect.assign(G_, 0.0);
        for (std::size_t g = 0; g < G_; ++g) {
          const double cov = row[g] / groups_ - mt * gene_sum_[g] / groups_;
          p.effect[g] += cov / (var + ridge) * on_target_;
        }
        if (--p.remaining == 0) {
          each(*p.group, p.effect);
          std::vector<double>().swap(p.effect);
        }
      }
    }
  }
}

std::vector<double> Baselines::pca_linear(const ObservedGroup& o) const {
  const auto& ts = targets_of(problem_, o);
  auto e = train_mean(o);
  if (!all_measured(ts) || components_ == 0 || e.empty()) return {};
  const auto K = static_cast<std::size_t>(components_);
  std::vector<double> p(K, 0.0), wp(K, 0.0);
  for (int t : ts)
    for (std::size_t j = 0; j < K; ++j) p[j] += embedding_[static_cast<std::size_t>(t) * K + j];
  for (std::size_t i = 0; i < K; ++i)
    for (std::size_t j = 0; j < K; ++j) wp[i] += weights_[i * K + j] * p[j];
  for (std::size_t g = 0; g < G_; ++g)
    for (std::size_t i = 0; i < K; ++i) e[g] += embedding_[g * K + i] * wp[i];
  return e;
}

}  // namespace perturbfit::fit
