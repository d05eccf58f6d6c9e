#include "perturbfit/fit/evaluation.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

namespace perturbfit::fit {

namespace {
// Baselines: "control_mean" (no change), "train_mean" (the mean effect of the training
// perturbations: no knowledge of the target), "additive", "linear". "replicate" is the
// noise ceiling: a group's effect predicted by the mean observed effect of the same
// perturbation in the other batches, what repeating the experiment would predict.
const std::vector<std::string> kPredictors{"model", "control_mean", "train_mean", "additive", "linear", "replicate"};
constexpr std::size_t kReplicate = 5;
const std::vector<std::string> kSubsets{"train", "validation", "test", "test/single", "test/combination (singles seen)",
                                        "test/combination (unseen single)"};
// groups, sse expression, sse effect, pearson sum, count, top20 sum, count, noise floor
constexpr std::size_t kStats = 8;
constexpr int kTop = 20;

std::size_t slot(std::size_t predictor, std::size_t subset) { return (predictor * kSubsets.size() + subset) * kStats; }

// floor_factor: for the replicate predictor over B replicates, (B - 1) / B: the expected
// squared error of the leave-one-out mean is sigma^2 B / (B - 1), so this scales its error
// to sigma^2, the error of the true effect (equal noise in every replicate assumed).
void accumulate(double* s, const std::vector<double>& y_obs, const std::vector<double>& y_pred,
                const std::vector<double>& e_obs, const std::vector<double>& e_pred, const std::vector<std::size_t>& top,
                double floor_factor) {
  const auto G = static_cast<double>(y_obs.size());
  double se = 0, sf = 0;
  for (std::size_t g = 0; g < y_obs.size(); ++g) {
    se += (y_pred[g] - y_obs[g]) * (y_pred[g] - y_obs[g]);
    sf += (e_pred[g] - e_obs[g]) * (e_pred[g] - e_obs[g]);
  }
  s[0] += 1, s[1] += se / G, s[2] += sf / G, s[7] += floor_factor * sf / G;
  const double r = pearson(e_obs, e_pred);
  if (std::isfinite(r)) s[3] += r, s[4] += 1;
  std::vector<double> a, b;
  for (auto g : top) a.push_back(e_obs[g]), b.push_back(e_pred[g]);
  const double rt = pearson(a, b);
  if (std::isfinite(rt)) s[5] += rt, s[6] += 1;
}

nlohmann::json summarise(const double* s) {
  if (s[0] == 0) return nullptr;
  auto ratio = [](double a, double b) { return b > 0 ? nlohmann::json(a / b) : nlohmann::json(nullptr); };
  nlohmann::json j{{"groups", static_cast<long>(s[0])},
                   {"mse_expression", s[1] / s[0]},
                   {"mse_effect", s[2] / s[0]},
                   {"pearson_effect", ratio(s[3], s[4])},
                   {"pearson_effect_top20", ratio(s[5], s[6])}};
  if (s[7] > 0) j["noise_floor_mse_effect"] = s[7] / s[0];
  return j;
}
}  // namespace

const std::vector<std::string>& predictor_names() { return kPredictors; }
const std::vector<std::string>& subset_names() { return kSubsets; }

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const auto n = static_cast<double>(a.size());
  if (a.size() < 2) return std::numeric_limits<double>::quiet_NaN();
  const double ma = std::accumulate(a.begin(), a.end(), 0.0) / n, mb = std::accumulate(b.begin(), b.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb), saa += (a[i] - ma) * (a[i] - ma), sbb += (b[i] - mb) * (b[i] - mb);
  }
  if (saa <= 0 || sbb <= 0) return std::numeric_limits<double>::quiet_NaN();
  return sab / std::sqrt(saa * sbb);
}

nlohmann::json evaluate_predictions(const FitProblem& problem, const parallel::Comm& comm,
                                    std::vector<GroupPrediction>& rows) {
  const auto& perts = problem.data().perturbations();
  const auto& splits = problem.splits();
  const auto G = static_cast<std::size_t>(problem.measured_genes());
  auto effect = [&](const ObservedGroup& o) {
    std::vector<double> e(G);
    const auto& c = problem.control_group(o.control).y;
    for (std::size_t g = 0; g < G; ++g) e[g] = o.y[g] - c[g];
    return e;
  };
  auto perturbed = [&](const ObservedGroup& o) {
    return o.owned && o.control >= 0 && o.condition >= 0 && !perts[static_cast<std::size_t>(o.perturbation)].control;
  };
  // Targets are keyed by model node (measured genes first, so a measured target's node is
  // its gene; latent nodes after): the additive baseline works for any target, the linear
  // one needs the target's measured response (node < G).
  auto single_target = [&](const ObservedGroup& o) {
    const auto& t = perts[static_cast<std::size_t>(o.perturbation)].target_nodes;
    return t.size() == 1 ? t[0] : -1;
  };
  const auto measured = [&](int node) { return node >= 0 && static_cast<std::size_t>(node) < G; };
  // Training statistics for the baselines. Targets whose singles feed the additive
  // baseline, and targets of held-out perturbations for the linear one (same global list
  // on every rank: the perturbation table is replicated).
  std::vector<int> targets;
  std::map<int, std::size_t> index;
  // Only targets of held-out perturbations and of combinations: never a dense G x G table.
  for (std::size_t p = 0; p < perts.size(); ++p)
    if (splits[p] != Split::kTrain || perts[p].target_nodes.size() > 1)
      for (int t : perts[p].target_nodes)
      if (t >= 0 && !index.count(t)) index[t] = targets.size(), targets.push_back(t);
  const std::size_t T = targets.size();
  // Layout: [single effect sums T x G][single counts T][cross sums T x G][target sums T]
  //         [target squares T][gene sums G][groups 1][on-target sum 1][on-target count 1]
  const std::size_t o_single = 0, o_count = T * G, o_cross = o_count + T, o_tsum = o_cross + T * G, o_tsq = o_tsum + T,
                    o_gsum = o_tsq + T, o_n = o_gsum + G, o_on = o_n + 1, size = o_on + 2;
  std::vector<double> train(size, 0.0);
  for (const auto& o : problem.groups()) {
    if (!perturbed(o) || o.split != Split::kTrain) continue;
    const auto e = effect(o);
    const int t = single_target(o);
    if (measured(t)) {
      train[o_on] += e[static_cast<std::size_t>(t)], train[o_on + 1] += 1;
    }
    if (t >= 0 && index.count(t)) {
      const auto i = index[t];
      for (std::size_t g = 0; g < G; ++g) train[o_single + i * G + g] += e[g];
      train[o_count + i] += 1;
    }
    for (std::size_t i = 0; i < T; ++i) {
      if (!measured(targets[i])) continue;
      const double et = e[static_cast<std::size_t>(targets[i])];
      for (std::size_t g = 0; g < G; ++g) train[o_cross + i * G + g] += et * e[g];
      train[o_tsum + i] += et, train[o_tsq + i] += et * et;
    }
    for (std::size_t g = 0; g < G; ++g) train[o_gsum + g] += e[g];
    train[o_n] += 1;
  }
  comm.replicated_sum_in_place(train);
  const double n = train[o_n], on_target = train[o_on + 1] > 0 ? train[o_on] / train[o_on + 1] : 0.0;
  auto linear_effect = [&](const std::vector<int>& ts) {
    std::vector<double> e(G, 0.0);
    if (n < 2) return e;
    for (int t : ts) {
      const auto i = index[t];
      const double mt = train[o_tsum + i] / n, var = train[o_tsq + i] / n - mt * mt;
      // Shrinkage on the scale of a knockdown: a target that barely varies across the
      // training groups gets a small slope, not an exploding one.
      const double ridge = 0.1 * on_target * on_target + 1e-9;
      for (std::size_t g = 0; g < G; ++g) {
        const double cov = train[o_cross + i * G + g] / n - mt * train[o_gsum + g] / n;
        e[g] += cov / (var + ridge) * on_target;
      }
    }
    return e;
  };

  // The groups of each perturbation in each (medium, time), one per batch: the replicates.
  std::map<std::pair<int, int>, std::vector<const ObservedGroup*>> replicates;
  for (const auto& o : problem.groups())
    if (perturbed(o)) replicates[{o.perturbation, o.reference}].push_back(&o);
  std::vector<double> sums(kPredictors.size() * kSubsets.size() * kStats, 0.0);
  std::vector<std::size_t> category(perts.size(), 0);  // index into kSubsets; 0 = not yet known
  rows.clear();
  for (const auto& o : problem.groups()) {
    if (!perturbed(o)) continue;
    const auto y_pred = problem.predict(o), c_pred = problem.predict(problem.control_group(o.control));
    if (y_pred.empty() || c_pred.empty()) continue;  // failed steady state: counted by solve_all
    const auto& y_ctrl = problem.control_group(o.control).y;
    const auto e_obs = effect(o);
    std::vector<std::size_t> top(G);
    std::iota(top.begin(), top.end(), 0);
    const auto k = std::min<std::size_t>(kTop, G);
    std::partial_sort(top.begin(), top.begin() + static_cast<long>(k), top.end(),
                      [&](std::size_t a, std::size_t b) { return std::abs(e_obs[a]) > std::abs(e_obs[b]); });
    top.resize(k);
    std::vector<std::size_t> subsets{static_cast<std::size_t>(o.split)};
    if (o.split == Split::kTest) {
      auto& subset = category[static_cast<std::size_t>(o.perturbation)];
      if (subset == 0) {  // computed once per perturbation: holdout_category scans the whole table
        const auto cat = holdout_category(perts, splits, static_cast<std::size_t>(o.perturbation));
        subset = cat == "single" ? 3 : cat == "combination (singles seen)" ? 4 : 5;
      }
      subsets.push_back(subset);
    }
    GroupPrediction row{o.group, o.y, y_pred, e_obs, std::vector<double>(G)};
    for (std::size_t g = 0; g < G; ++g) row.predicted_effect[g] = y_pred[g] - c_pred[g];
    // predictions of each predictor as (expression, effect)
    std::vector<std::pair<std::vector<double>, std::vector<double>>> predictions(kPredictors.size());
    predictions[0] = {y_pred, row.predicted_effect};
    auto with_control = [&](const std::vector<double>& e) {
      std::vector<double> y(G);
      for (std::size_t g = 0; g < G; ++g) y[g] = y_ctrl[g] + e[g];
      return std::make_pair(y, e);
    };
    predictions[1] = {y_ctrl, std::vector<double>(G, 0.0)};
    if (n > 0) {
      std::vector<double> e_mean(G);
      for (std::size_t g = 0; g < G; ++g) e_mean[g] = train[o_gsum + g] / n;
      predictions[2] = with_control(e_mean);
    }
    const auto& ts = perts[static_cast<std::size_t>(o.perturbation)].target_nodes;
    const bool indexed = std::all_of(ts.begin(), ts.end(), [&](int t) { return index.count(t) > 0; });
    const bool all_measured = std::all_of(ts.begin(), ts.end(), measured);
    bool singles_seen = ts.size() >= 2 && indexed;
    std::vector<double> e_add(G, 0.0);
    for (int t : ts) {
      if (!singles_seen) break;
      const auto i = index[t];
      if (train[o_count + i] == 0) singles_seen = false;
      else
        for (std::size_t g = 0; g < G; ++g) e_add[g] += train[o_single + i * G + g] / train[o_count + i];
    }
    if (singles_seen) predictions[3] = with_control(e_add);
    if (indexed && all_measured) predictions[4] = with_control(linear_effect(ts));
    const auto& same = replicates[{o.perturbation, o.reference}];
    if (same.size() > 1) {
      std::vector<double> e_rep(G, 0.0);
      for (const auto* other : same)
        if (other != &o) {
          const auto e = effect(*other);
          for (std::size_t g = 0; g < G; ++g) e_rep[g] += e[g] / static_cast<double>(same.size() - 1);
        }
      predictions[kReplicate] = with_control(e_rep);
    }
    for (std::size_t q = 0; q < kPredictors.size(); ++q) {
      if (predictions[q].first.empty()) continue;
      const double floor_factor =
          q == kReplicate ? static_cast<double>(same.size() - 1) / static_cast<double>(same.size()) : 0.0;
      for (auto s : subsets)
        accumulate(&sums[slot(q, s)], o.y, predictions[q].first, e_obs, predictions[q].second, top, floor_factor);
    }
    rows.push_back(std::move(row));
  }
  comm.replicated_sum_in_place(sums);
  nlohmann::json out;
  for (std::size_t q = 0; q < kPredictors.size(); ++q)
    for (std::size_t s = 0; s < kSubsets.size(); ++s) {
      const auto j = summarise(&sums[slot(q, s)]);
      if (!j.is_null()) out[kPredictors[q]][kSubsets[s]] = j;
    }
  return out;
}

}  // namespace perturbfit::fit
