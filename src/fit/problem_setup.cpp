// FitProblem set-up: observed groups, control references and units, conditions, the
// support of W and the initial point (the loss and its gradient are in problem.cpp).
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "perturbfit/core/error.hpp"
#include "perturbfit/core/random.hpp"
#include "perturbfit/fit/problem.hpp"
#include "perturbfit/fit/support.hpp"
#include "perturbfit/solvers/small_dense.hpp"

namespace perturbfit::fit {

namespace {
const std::string kSharedNodeName = "(shared response)";
}

FitProblem::FitProblem(const parallel::Comm& comm, const data::ScreenData& data, const FitOptions& options,
                       std::vector<std::vector<double>> media, const Reporter& reporter)
    : comm_(comm), data_(data), opt_(options), reporter_(reporter) {
  if (data.genes().empty()) throw DataError("the screen has no genes (var is empty, or the gene selection kept none)");
  setup_times();
  splits_ = assign_splits(data.perturbations(), opt_.validation_fraction, opt_.test_fraction, opt_.split_seed);
  const auto measured = static_cast<int>(data.genes().size()), latent = static_cast<int>(data.latent_targets().size());
  first_shared_ = measured + latent;
  if (opt_.shared_response) shared_count_ = std::max<int>(1, static_cast<int>(data.media().size()));
  if (opt_.niche) {
    std::size_t width = 0;
    for (const auto& m : media) width = std::max(width, m.size());
    setup_niche(width);
  }
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
  std::vector<int> training_ids;
  for (const auto& g : groups_)
    if (g.owned && g.split == Split::kTrain) training_rows.push_back(g.y.data()), training_ids.push_back(g.group);
  auto names = data.genes();
  const auto extra = unmeasured_nodes();
  names.insert(names.end(), extra.begin(), extra.end());
  params_.W =
      support_pattern(opt_, names, measured, latent, response_edges(), training_rows, training_ids, comm_, reporter_);
  params_.gene_names = std::move(names);
  read_.assign(params_.gene_names.size(), 0);
  for (int j : params_.W.col) read_[static_cast<std::size_t>(j)] = 1;
  initialise_parameters();
  setup_abundance();
  setup_counts();
  set_point(initial_point());
  variable_scale_ = diagonal_scaling();
}

FitProblem::~FitProblem() = default;

std::vector<std::string> FitProblem::unmeasured_nodes() const {
  auto names = data_.latent_targets();
  for (int m = 0; m < shared_count_; ++m)
    names.push_back(shared_count_ == 1 ? kSharedNodeName
                                       : kSharedNodeName.substr(0, kSharedNodeName.size() - 1) + ": " +
                                             data_.media()[static_cast<std::size_t>(m)] + ")");
  return names;
}

void FitProblem::build_groups(const std::vector<std::vector<double>>& media) {
  auto stats =
      data_.statistics({.log_moments = false, .perturbed_groups = true});  // the pseudo-bulk needs only sums of y / s
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
    if (time_course()) o.time = time_values_[static_cast<std::size_t>(gr.time)];
    const auto& heldout = opt_.heldout_times;
    o.heldout_time =
        std::find(heldout.begin(), heldout.end(), data_.times()[static_cast<std::size_t>(gr.time)]) != heldout.end();
    o.split = splits_[p];
    o.owned = data_.owned().contains(p);
    // The observed means overwrite the sums they come from: at genome scale each is a dense
    // groups x genes block of gigabytes, held while the rank still holds its cells' counts.
    double* row = stats.sum_linear.data() + h * G;
    for (std::size_t g = 0; g < G; ++g) row[g] = std::log(eps + row[g] / o.cells);
    o.y = std::span<const double>(row, G);
    index_of_group[o.group] = static_cast<int>(groups_.size());
    groups_.push_back(std::move(o));
  }
  observed_means_ = std::move(stats.sum_linear);  // moving keeps the buffer the rows view
  // Control references: one per (medium, time) of the control groups.
  std::map<std::pair<int, int>, int> ref_of;
  for (std::size_t i = 0; i < groups_.size(); ++i) {
    const auto& gr = all[static_cast<std::size_t>(groups_[i].group)];
    if (!perts[static_cast<std::size_t>(gr.perturbation)].control) continue;
    const auto key = std::make_pair(gr.medium, gr.time);
    if (!ref_of.count(key)) {
      ref_of[key] = static_cast<int>(references_.size());
      ControlReference ref;
      ref.medium = gr.medium, ref.time = gr.time, ref.control_perturbation = gr.perturbation;
      references_.push_back(std::move(ref));
    }
    groups_[i].reference = ref_of[key];
    groups_[i].control = static_cast<int>(i);
  }
  if (references_.empty())
    throw DataError("the screen has no control cells: the fit contrasts every perturbation with controls of its batch");
  build_references();
  // Perturbed groups: their batch's control group and its reference.
  int uncontrolled = 0;
  std::set<std::pair<int, int>> uncontrolled_times;  // (medium, time) with perturbed groups and no controls
  for (auto& o : groups_) {
    if (perts[static_cast<std::size_t>(o.perturbation)].control) continue;
    const auto& gr = all[static_cast<std::size_t>(o.group)];
    const auto it = index_of_group.find(gr.control_group);
    if (it != index_of_group.end()) {
      o.control = it->second;
      o.reference = groups_[static_cast<std::size_t>(it->second)].reference;
    } else {
      const auto key = std::make_pair(gr.medium, gr.time);
      if (ref_of.count(key))
        o.reference = ref_of[key];
      else {
        uncontrolled_times.insert(key);
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
  // Each rank sees its own perturbations' groups: the (medium, time) pairs of all ranks.
  const auto T = data_.times().size();
  std::vector<double> seen(data_.media().size() * T, 0.0);
  for (const auto& [medium, time] : uncontrolled_times)
    seen[static_cast<std::size_t>(medium) * T + static_cast<std::size_t>(time)] = 1;
  comm_.replicated_sum_in_place(seen);
  for (std::size_t k = 0; k < seen.size(); ++k) {
    if (seen[k] == 0) continue;
    const auto medium = k / T, time = k % T;
    reporter_.warn("time '" + data_.times()[time] + "' in medium '" + data_.media()[medium] +
                   "' has perturbed cells but no control cells: its batch offsets and its control state are taken "
                   "from another time (biased if the controls change over time); add time-matched controls");
  }
  const auto total_uncontrolled = comm_.sum(static_cast<std::int64_t>(uncontrolled));
  if (total_uncontrolled > 0)
    reporter_.warn(std::to_string(total_uncontrolled) +
                   " groups have no controls in their batch; their batch offset is taken as zero (biased)");
  build_conditions(media);
  build_time_courses();
}

// Mean control profile per reference (unweighted over batches), the batch offsets of the
// control groups, the de-noised control levels, and the units S of the model's state.
void FitProblem::build_references() {
  const auto G = static_cast<std::size_t>(measured_genes());
  const double eps = opt_.pseudocount;
  std::vector<int> count(references_.size(), 0);
  for (auto& ref : references_) ref.level.assign(G, 0.0);
  for (const auto& o : groups_)
    if (o.control >= 0) {
      auto& ref = references_[static_cast<std::size_t>(o.reference)];
      for (std::size_t g = 0; g < G; ++g) ref.level[g] += o.y[g];
      ref.cells += o.cells;
      ++count[static_cast<std::size_t>(o.reference)];
    }
  for (std::size_t r = 0; r < references_.size(); ++r)
    for (auto& v : references_[r].level) v /= count[r];  // mean log profile for now
  for (auto& o : groups_)
    if (o.control >= 0) {
      const auto& mean = references_[static_cast<std::size_t>(o.reference)].level;
      o.delta.assign(G, 0.0);
      if (opt_.batch_offsets)
        for (std::size_t g = 0; g < G; ++g) o.delta[g] = o.y[g] - mean[g];
    }
  for (auto& ref : references_)
    for (auto& v : ref.level) v = std::max(std::exp(v) - eps, 0.0);
  // One model unit = the gene's mean control level over the references; a gene no control
  // expresses gets a hundredth of the pseudocount (below what the measurement resolves).
  // Unobserved nodes (latent targets, shared response) have S = 1: their level is not
  // identifiable, only its product with their out-weights, so z = 1 in controls is as
  // good as any and keeps those weights of order one.
  scale_.assign(static_cast<std::size_t>(measured_genes()) + unmeasured_nodes().size(), 1.0);
  for (std::size_t g = 0; g < G; ++g) {
    double mean = 0;
    for (const auto& ref : references_) mean += ref.level[g] / static_cast<double>(references_.size());
    scale_[g] = std::max(mean, 0.01 * eps);
  }
  for (auto& ref : references_) {
    ref.state.assign(scale_.size(), 1.0);
    for (std::size_t g = 0; g < G; ++g) ref.state[g] = ref.level[g] / scale_[g];
  }
}

model::Condition FitProblem::perturbation_condition(const std::vector<int>& targets, int reference) const {
  const auto& ref = references_[static_cast<std::size_t>(reference)];
  model::Condition c;
  if (ref.condition < 0) throw std::logic_error("perturbation_condition before the references' conditions");
  c.medium = conditions_[static_cast<std::size_t>(ref.condition)].condition.medium;
  for (int t : targets)
    if (t >= 0) c.knock.emplace_back(t, kappa_);
  // Last, so that its entry can be told apart from the targets' (set_point, kappa gradient).
  if (shared_count_ > 0) c.knock.emplace_back(first_shared_ + std::min(ref.medium, shared_count_ - 1), kSharedKnock);
  return c;
}

model::Condition FitProblem::context_condition(const std::vector<int>& targets, int reference, int animal,
                                               bool control) const {
  auto c = perturbation_condition(targets, reference);
  if (control) c.knock.clear();
  if (!opt_.niche) return c;
  const auto& n = niche_.factors;
  const std::size_t K = c.medium.size(), animals = K > 0 ? n.size() / K : 0;
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t a = 0; a < animals; ++a)
      if (animal < 0 || static_cast<int>(a) == animal)
        c.medium[k] += n[a * K + k] / (animal < 0 ? static_cast<double>(animals) : 1.0);
  return c;
}

// One control condition per medium (every rank), one per owned (perturbation, medium).
void FitProblem::build_conditions(const std::vector<std::vector<double>>& media) {
  const auto& all = data_.groups();
  const auto& perts = data_.perturbations();
  auto medium_vector = [&](int m) {
    auto v = m < static_cast<int>(media.size()) ? media[static_cast<std::size_t>(m)] : std::vector<double>{};
    if (opt_.niche)
      v.resize(static_cast<std::size_t>(external_channels_ + niche_channels_), 0.0);  // n_a added per solve
    return v;
  };
  // Coupled, every (perturbation, medium) has one condition per animal: each animal its niche.
  // In a time course, one per time label of its groups (time -1: the steady state).
  std::map<std::tuple<int, int, int, int>, int> cond_of;
  auto condition_for = [&](int perturbation, int medium, int reference, int animal = -1, int time = -1) {
    const auto key = std::make_tuple(perturbation, medium, animal, time);
    if (cond_of.count(key)) return cond_of[key];
    ConditionState c;
    c.perturbation = perturbation;
    c.animal = animal;
    c.control = perts[static_cast<std::size_t>(perturbation)].control;
    c.condition = c.control
                      ? model::Condition{medium_vector(medium), {}, 0.0}
                      : perturbation_condition(perts[static_cast<std::size_t>(perturbation)].target_nodes, reference);
    c.reference = reference;
    if (time >= 0) c.time = time_values_[static_cast<std::size_t>(time)], c.condition.tau = opt_.onset_tau;
    c.x = references_[static_cast<std::size_t>(reference)].state;
    c.start.assign(c.x.begin(), c.x.end());
    cond_of[key] = static_cast<int>(conditions_.size());
    conditions_.push_back(std::move(c));
    return cond_of[key];
  };
  for (auto& ref : references_)
    ref.condition = condition_for(ref.control_perturbation, ref.medium, static_cast<int>(&ref - references_.data()));
  // Per medium, a perturbation with no known target: the shared knock alone.
  std::map<int, int> generic_of;
  for (auto& ref : references_) {
    if (shared_count_ == 0) {
      ref.generic = ref.condition;
      continue;
    }
    if (!generic_of.count(ref.medium)) {
      ConditionState c = conditions_[static_cast<std::size_t>(ref.condition)];
      c.control = false, c.generic = true;
      c.condition.knock = {{first_shared_ + std::min(ref.medium, shared_count_ - 1), kSharedKnock}};
      generic_of[ref.medium] = static_cast<int>(conditions_.size());
      conditions_.push_back(std::move(c));
    }
    ref.generic = generic_of[ref.medium];
  }
  for (auto& o : groups_) {
    const auto& gr = all[static_cast<std::size_t>(o.group)];
    const auto& ref = references_[static_cast<std::size_t>(o.reference)];
    o.generic = ref.generic;
    if (std::isfinite(o.time)) {  // a time course: the group's state at its time, and the shared knock's
      o.condition = condition_for(o.perturbation, gr.medium, o.reference, -1, gr.time);
      if (shared_count_ == 0) {
        o.generic = condition_for(ref.control_perturbation, gr.medium, o.reference, -1, gr.time);
        continue;
      }
      const auto key = std::make_tuple(-1, gr.medium, -1, gr.time);
      if (!cond_of.count(key)) {
        ConditionState c = conditions_[static_cast<std::size_t>(ref.generic)];
        c.time = o.time, c.condition.tau = opt_.onset_tau, c.reference = o.reference;
        cond_of[key] = static_cast<int>(conditions_.size());
        conditions_.push_back(std::move(c));
      }
      o.generic = cond_of[key];
      continue;
    }
    if (!opt_.niche) {
      o.condition = perts[static_cast<std::size_t>(o.perturbation)].control
                        ? ref.condition
                        : condition_for(o.perturbation, gr.medium, o.reference);
      continue;
    }
    // Coupled: the group's own condition in its animal (a member where it is owned), and a
    // probe of the shared knock alone in that animal.
    o.condition = condition_for(o.perturbation, gr.medium, o.reference, o.batch);
    auto& c = conditions_[static_cast<std::size_t>(o.condition)];
    c.member = o.owned, c.cells = o.cells;
    if (shared_count_ == 0) continue;
    const auto key = std::make_tuple(-1, gr.medium, o.batch, -1);
    if (!cond_of.count(key)) {
      ConditionState probe = conditions_[static_cast<std::size_t>(ref.generic)];
      probe.animal = o.batch;
      cond_of[key] = static_cast<int>(conditions_.size());
      conditions_.push_back(std::move(probe));
    }
    o.generic = cond_of[key];
  }
}

std::vector<std::pair<int, int>> FitProblem::response_edges() const {
  const auto G = static_cast<std::size_t>(measured_genes());
  const auto& perts = data_.perturbations();
  std::vector<int> targets;  // every node a training perturbation knocks down (replicated table)
  for (std::size_t p = 0; p < perts.size(); ++p)
    if (splits_[p] == Split::kTrain && !perts[p].control && !perts[p].excluded)
      for (int t : perts[p].target_nodes)
        if (t >= 0) targets.push_back(t);
  std::sort(targets.begin(), targets.end());
  targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
  std::vector<std::pair<int, int>> edges;  // (target gene, regulator node)
  // With the shared response the common part is the shared nodes': a target's candidates
  // are the genes its knockdown moves away from the mean training effect of its context.
  // (Scored by the whole effect, every target would pick the same programme genes, and
  // where every group has its own weights the common level is no longer identifiable.)
  const auto R = references_.size();
  std::vector<double> common(R * G + R, 0.0);
  auto training_effect = [&](const ObservedGroup& o) {
    return o.owned && o.split == Split::kTrain && o.control >= 0 &&
           !perts[static_cast<std::size_t>(o.perturbation)].control;
  };
  if (shared_count_ > 0) {
    for (const auto& o : groups_) {
      if (!training_effect(o)) continue;
      const auto r = static_cast<std::size_t>(o.reference);
      const auto& control = groups_[static_cast<std::size_t>(o.control)].y;
      for (std::size_t g = 0; g < G; ++g) common[r * G + g] += o.y[g] - control[g];
      common[R * G + r] += 1;
    }
    comm_.replicated_sum_in_place(common);
    for (std::size_t r = 0; r < R; ++r)
      for (std::size_t g = 0; g < G; ++g) common[r * G + g] /= std::max(common[R * G + r], 1.0);
  }
  // A block of targets at a time: never a (targets x genes) table at genome scale.
  const std::size_t block = std::max<std::size_t>(1, (std::size_t{1} << 22) / G);
  for (std::size_t b0 = 0; b0 < targets.size(); b0 += block) {
    const std::size_t b1 = std::min(targets.size(), b0 + block);
    std::vector<double> response((b1 - b0) * G, 0.0);
    for (const auto& o : groups_) {
      if (!training_effect(o)) continue;
      const auto& control = groups_[static_cast<std::size_t>(o.control)].y;
      const double* mean = common.data() + static_cast<std::size_t>(o.reference) * G;
      for (int t : perts[static_cast<std::size_t>(o.perturbation)].target_nodes) {
        const auto it =
            std::lower_bound(targets.begin() + static_cast<long>(b0), targets.begin() + static_cast<long>(b1), t);
        if (it == targets.begin() + static_cast<long>(b1) || *it != t) continue;
        double* row = response.data() + static_cast<std::size_t>(it - targets.begin() - static_cast<long>(b0)) * G;
        for (std::size_t g = 0; g < G; ++g) row[g] += std::abs(o.y[g] - control[g] - mean[g]);
      }
    }
    comm_.replicated_sum_in_place(response);
    for (std::size_t i = b0; i < b1; ++i)
      for (int g :
           top_responders(response.data() + (i - b0) * G, static_cast<int>(G), targets[i], opt_.target_out_degree))
        edges.emplace_back(g, targets[i]);
  }
  for (int m = 0; m < shared_count_; ++m)  // the common response may touch any gene; L1 keeps what the data support
    for (std::size_t g = 0; g < G; ++g) edges.emplace_back(static_cast<int>(g), first_shared_ + m);
  return edges;
}

void FitProblem::initialise_parameters() {
  auto& p = params_;
  p.kind = opt_.kind;
  p.genes = static_cast<int>(p.gene_names.size());
  p.media = static_cast<int>(conditions_.front().condition.medium.size());
  p.neural_rank = opt_.kind == model::ModelKind::kMechanistic ? 0 : opt_.neural_rank;
  const auto N = static_cast<std::size_t>(p.genes), K = static_cast<std::size_t>(p.media),
             h = static_cast<std::size_t>(p.neural_rank), R = references_.size();
  p.U.assign(N * K, 0.0);
  p.c.assign(N, 0.0);
  p.gamma.assign(N, 1.0);
  p.v.resize(N), p.beta.resize(N);
  // Controls as the fixed point (W = 0): for each node v = 1.8 max z, beta = 0.1 min z over
  // its control levels z_r and the mean levels of the training perturbations per medium
  // (the shared response's targets, initialise_shared_response), and s_r = c + U m_r such
  // that v sigma(s_r) + beta = z_r in every reference r (least squares when the references
  // outnumber the medium inputs; one reference: c = 0). Levels below a hundredth of the
  // pseudocount are indistinguishable from zero to the measurement (log(eps + x) moves by
  // 1%) and are raised to it, so that no gene starts deep in its sigmoid's saturation,
  // where no gradient reaches it.
  const auto perturbed = perturbed_levels();
  const auto G = static_cast<std::size_t>(measured_genes());
  std::vector<double> target(R * N);
  for (std::size_t g = 0; g < N; ++g) {
    const double floor = g < G ? std::max(1e-3, 0.01 * opt_.pseudocount / scale_[g]) : 1e-3;
    double lo = 1e300, hi = 0;
    auto include = [&](double z) { lo = std::min(lo, std::max(z, floor)), hi = std::max(hi, std::max(z, floor)); };
    for (const auto& ref : references_) include(ref.state[g]);
    for (std::size_t m = 0; g < G && m < perturbed.size() / std::max<std::size_t>(G, 1); ++m)
      if (perturbed[m * G + g] >= 0) include(perturbed[m * G + g]);
    p.v[g] = 1.8 * hi, p.beta[g] = 0.1 * lo;
    for (std::size_t r = 0; r < R; ++r) {
      const double s = (std::max(references_[r].state[g], floor) - p.beta[g]) / p.v[g];
      target[r * N + g] = std::log(s / (1.0 - s));
    }
  }
  if (R > 1) {
    // Normal equations (X^T X + ridge) [c; U_g] = X^T t_g, X = rows [1, m_r], all genes at once.
    const std::size_t n = K + 1;
    std::vector<double> XtX(n * n, 0.0), rhs(n * N, 0.0);
    for (std::size_t r = 0; r < R; ++r) {
      std::vector<double> x{1.0};
      const auto& m = conditions_[static_cast<std::size_t>(references_[r].condition)].condition.medium;
      x.insert(x.end(), m.begin(), m.end());
      x.resize(n, 0.0);
      for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < n; ++j) XtX[i * n + j] += x[i] * x[j];
        for (std::size_t g = 0; g < N; ++g) rhs[i * N + g] += x[i] * target[r * N + g];
      }
    }
    for (std::size_t i = 0; i < n; ++i) XtX[i * n + i] += 1e-6;
    solvers::solve_spd(static_cast<int>(n), XtX, rhs, static_cast<int>(N));
    for (std::size_t g = 0; g < N; ++g) {
      p.c[g] = rhs[g];
      for (std::size_t k = 0; k < K; ++k) p.U[g * K + k] = rhs[(k + 1) * N + g];
    }
  } else {
    std::copy(target.begin(), target.end(), p.c.begin());
  }
  initialise_shared_response(perturbed);
  p.A.assign(N * h, 0.0);
  p.B.resize(h * N);
  RandomStream rng(opt_.seed, StreamDomain::kNeural, 1);
  for (auto& b : p.B) b = 0.1 * rng.normal() / std::sqrt(static_cast<double>(N));
  p.C.assign(h * K, 0.0);
  if (opt_.production_response) p.Q.assign(N * K, 0.0);  // v shared by every medium at the start
  p.d.assign(h, 0.0);
  p.fitness.assign(N, 0.0);
  kappa_ = opt_.kappa;
  p.validate();
}

// Per medium (shared_count_ of them) and measured gene: the mean level, in model units, of
// the training perturbations (cell-weighted in log space, batch offsets removed, as the
// data term sees them); -1 where a medium has no training perturbation. Collective.
std::vector<double> FitProblem::perturbed_levels() const {
  if (shared_count_ == 0) return {};
  const auto G = static_cast<std::size_t>(measured_genes()), M = static_cast<std::size_t>(shared_count_);
  const auto& perts = data_.perturbations();
  std::vector<double> sums(M * G + M, 0.0);  // cell-weighted sums of y - delta, then cells, per medium
  for (const auto& o : groups_) {
    if (!o.owned || o.split != Split::kTrain || o.condition < 0 ||
        perts[static_cast<std::size_t>(o.perturbation)].control)
      continue;
    const auto m = std::min<std::size_t>(
        static_cast<std::size_t>(references_[static_cast<std::size_t>(o.reference)].medium), M - 1);
    const double* delta = o.control >= 0 ? groups_[static_cast<std::size_t>(o.control)].delta.data() : nullptr;
    for (std::size_t g = 0; g < G; ++g) sums[m * G + g] += o.cells * (o.y[g] - (delta ? delta[g] : 0.0));
    sums[M * G + m] += o.cells;
  }
  comm_.replicated_sum_in_place(sums);
  std::vector<double> level(M * G, -1.0);
  for (std::size_t m = 0; m < M; ++m)
    if (sums[M * G + m] > 0)
      for (std::size_t g = 0; g < G; ++g)
        level[m * G + g] = std::max(std::exp(sums[m * G + g] / sums[M * G + m]) - opt_.pseudocount, 0.0) / scale_[g];
  return level;
}

// The shared-response nodes start where the training data put them: the out-weight of
// medium m's node to gene g moves g from its control level to the mean level of the
// training perturbations in that medium (so the initial model predicts what train_mean
// does, and the optimiser only has to learn what is specific to each perturbation).
void FitProblem::initialise_shared_response(const std::vector<double>& perturbed) {
  if (shared_count_ == 0) return;
  auto& p = params_;
  const auto G = static_cast<std::size_t>(measured_genes()), M = static_cast<std::size_t>(shared_count_);
  // A shared node at z = 1 = v sigma + beta in controls drops by kSharedKnock v sigma when knocked.
  const double drop = kSharedKnock * (1.0 - p.beta[static_cast<std::size_t>(first_shared_)]);
  const auto c0 = p.c;  // control inputs before any shared weight is set
  for (std::size_t m = 0; m < M; ++m) {
    // The control input of medium m (the medium vector of one of its conditions).
    const model::Condition* control = nullptr;
    for (const auto& ref : references_)
      if (static_cast<std::size_t>(ref.medium) == m)
        control = &conditions_[static_cast<std::size_t>(ref.condition)].condition;
    if (!control) continue;
    const int node = first_shared_ + static_cast<int>(m);
    for (std::size_t g = 0; g < G; ++g) {
      const double level = perturbed[m * G + g];
      if (level < 0) continue;
      const double floor = std::max(1e-3, 0.01 * opt_.pseudocount / scale_[g]);
      const double s = std::clamp((std::max(level, floor) - p.beta[g]) / p.v[g], 1e-4, 1.0 - 1e-4);
      double input = c0[g];
      for (std::size_t k = 0; k < control->medium.size(); ++k)
        input += p.U[g * control->medium.size() + k] * control->medium[k];
      const auto *begin = p.W.col.data() + p.W.row_ptr[g], *end = p.W.col.data() + p.W.row_ptr[g + 1];
      const auto* at = std::lower_bound(begin, end, node);
      if (at == end || *at != node) continue;
      const double w = (input - std::log(s / (1.0 - s))) / drop;  // input - w drop = logit(s)
      p.W.val[static_cast<std::size_t>(at - p.W.col.data())] = w;
      p.c[g] -= w;  // the node sits at z = 1 in controls: keep every control input unchanged
    }
  }
}

}  // namespace perturbfit::fit
