#include "perturbfit/fit/evaluation.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "perturbfit/fit/baselines.hpp"

namespace perturbfit::fit {

namespace {
// Predictors of every group: the model, the baselines (fit/baselines.hpp) and the noise
// ceiling "replicate": a group's effect predicted by the mean observed effect of the same
// perturbation in the other batches, what repeating the experiment would predict.
const std::vector<std::string> kPredictors{"model",  "control_mean", "train_mean", "additive",
                                           "linear", "pca_linear",   "replicate"};
constexpr std::size_t kLinear = 4, kReplicate = 6;
const std::vector<std::string> kSubsets{"train",
                                        "validation",
                                        "test",
                                        "test/single",
                                        "test/combination (singles seen)",
                                        "test/combination (unseen single)",
                                        "later times"};
// groups, sse expression, sse effect, pearson sum, count, top20 sum, count, noise floor,
// L2 over the top-expressed genes, pearson over them, count, groups by fallback
constexpr std::size_t kStats = 12;
constexpr int kTop = 20;

std::size_t slot(std::size_t predictor, std::size_t subset) { return (predictor * kSubsets.size() + subset) * kStats; }

// floor_factor: for the replicate predictor over B replicates, (B - 1) / B: the expected
// squared error of the leave-one-out mean is sigma^2 B / (B - 1), so this scales its error
// to sigma^2, the error of the true effect (equal noise in every replicate assumed).
void accumulate(double* s, std::span<const double> y_obs, const std::vector<double>& y_pred,
                const std::vector<double>& e_obs, const std::vector<double>& e_pred,
                const std::vector<std::size_t>& top, const std::vector<std::size_t>& expressed, double floor_factor) {
  const auto G = static_cast<double>(y_obs.size());
  double se = 0, sf = 0;
  for (std::size_t g = 0; g < y_obs.size(); ++g) {
    se += (y_pred[g] - y_obs[g]) * (y_pred[g] - y_obs[g]);
    sf += (e_pred[g] - e_obs[g]) * (e_pred[g] - e_obs[g]);
  }
  s[0] += 1, s[1] += se / G, s[2] += sf / G, s[7] += floor_factor * sf / G;
  const double r = pearson(e_obs, e_pred);
  if (std::isfinite(r)) s[3] += r, s[4] += 1;
  auto subset_pearson = [&](const std::vector<std::size_t>& genes, double& l2) {
    std::vector<double> a, b;
    l2 = 0;
    for (auto g : genes)
      a.push_back(e_obs[g]), b.push_back(e_pred[g]), l2 += (e_obs[g] - e_pred[g]) * (e_obs[g] - e_pred[g]);
    l2 = std::sqrt(l2);
    return pearson(a, b);
  };
  double l2 = 0;
  const double rt = subset_pearson(top, l2);
  if (std::isfinite(rt)) s[5] += rt, s[6] += 1;
  const double re = subset_pearson(expressed, l2);
  s[8] += l2;
  if (std::isfinite(re)) s[9] += re, s[10] += 1;
}

nlohmann::json summarise(const double* s) {
  if (s[0] == 0) return nullptr;
  auto ratio = [](double a, double b) { return b > 0 ? nlohmann::json(a / b) : nlohmann::json(nullptr); };
  nlohmann::json j{{"groups", static_cast<long>(s[0])},
                   {"mse_expression", s[1] / s[0]},
                   {"mse_effect", s[2] / s[0]},
                   {"pearson_effect", ratio(s[3], s[4])},
                   {"pearson_effect_top20", ratio(s[5], s[6])},
                   {"l2_effect_top_expressed", s[8] / s[0]},
                   {"pearson_effect_top_expressed", ratio(s[9], s[10])}};
  if (s[7] > 0) j["noise_floor_mse_effect"] = s[7] / s[0];
  if (s[11] > 0) j["fallback_groups"] = static_cast<long>(s[11]);
  return j;
}

// The kTopExpressed measured genes of highest mean control level over the references.
std::vector<std::size_t> top_expressed_genes(const FitProblem& problem) {
  const auto G = static_cast<std::size_t>(problem.measured_genes());
  std::vector<double> level(G, 0.0);
  for (const auto& ref : problem.references())
    for (std::size_t g = 0; g < G; ++g) level[g] += ref.level[g];
  std::vector<std::size_t> order(G);
  std::iota(order.begin(), order.end(), 0);
  const auto k = std::min(kTopExpressedGenes, G);
  std::partial_sort(
      order.begin(), order.begin() + static_cast<long>(k), order.end(),
      [&](std::size_t a, std::size_t b) { return level[a] > level[b] || (level[a] == level[b] && a < b); });
  order.resize(k);
  return order;
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
  const auto G = static_cast<std::size_t>(problem.measured_genes());
  auto perturbed = [&](const ObservedGroup& o) {
    return o.owned && o.control >= 0 && o.condition >= 0 && !perts[static_cast<std::size_t>(o.perturbation)].control;
  };
  const Baselines baselines(problem, comm);
  std::vector<char> informed(perts.size());
  for (std::size_t p = 0; p < perts.size(); ++p) informed[p] = problem.informative(static_cast<int>(p));
  const auto expressed = top_expressed_genes(problem);
  // The groups of each perturbation in each (medium, time), one per batch: the replicates.
  std::map<std::pair<int, int>, std::vector<const ObservedGroup*>> replicates;
  for (const auto& o : problem.groups())
    if (perturbed(o)) replicates[{o.perturbation, o.reference}].push_back(&o);
  std::vector<double> sums(kPredictors.size() * kSubsets.size() * kStats, 0.0);
  std::vector<std::size_t> category(perts.size(), 0);  // index into kSubsets; 0 = not yet known
  // The subsets a group is scored in: its split, and for a test group its kind of holdout.
  auto subsets_of = [&](const ObservedGroup& o) {
    std::vector<std::size_t> subsets{o.heldout_time ? kSubsets.size() - 1 : static_cast<std::size_t>(o.split)};
    if (o.split == Split::kTest && !o.heldout_time) {
      auto& subset = category[static_cast<std::size_t>(o.perturbation)];
      if (subset == 0) {  // computed once per perturbation: holdout_category scans the whole table
        const auto cat = holdout_category(perts, problem.splits(), static_cast<std::size_t>(o.perturbation));
        subset = cat == "single" ? 3 : cat == "combination (singles seen)" ? 4 : 5;
      }
      subsets.push_back(subset);
    }
    return subsets;
  };
  // The kTop genes of largest observed effect.
  auto top_of = [&](const std::vector<double>& e_obs) {
    std::vector<std::size_t> top(G);
    std::iota(top.begin(), top.end(), 0);
    const auto k = std::min<std::size_t>(kTop, G);
    std::partial_sort(top.begin(), top.begin() + static_cast<long>(k), top.end(),
                      [&](std::size_t a, std::size_t b) { return std::abs(e_obs[a]) > std::abs(e_obs[b]); });
    top.resize(k);
    return top;
  };
  // Every predictor's effect is its expression minus the same observed control profile
  // (the field's convention), so the model is scored on what it predicts for the group,
  // not on its own control state.
  auto with_control = [&](const ObservedGroup& o, std::vector<double> e) {
    const auto& y_ctrl = problem.control_group(o.control).y;
    std::vector<double> y(G);
    if (!e.empty())
      for (std::size_t g = 0; g < G; ++g) y[g] = y_ctrl[g] + e[g];
    else
      y.clear();
    return std::make_pair(y, std::move(e));
  };
  rows.clear();
  std::vector<const ObservedGroup*> scored;  // the groups the model predicts, for the linear baseline
  for (const auto& o : problem.groups()) {
    if (!perturbed(o)) continue;
    const auto y_pred = problem.predict(o);
    if (y_pred.empty()) continue;  // failed steady state: counted by solve_all
    scored.push_back(&o);
    const auto& y_ctrl = problem.control_group(o.control).y;
    const auto e_obs = observed_effect(problem, o);
    const auto top = top_of(e_obs);
    const auto subsets = subsets_of(o);
    // predictions of each predictor as (expression, effect); the linear baseline's come
    // after this loop (Baselines::for_each_linear)
    std::vector<std::pair<std::vector<double>, std::vector<double>>> predictions(kPredictors.size());
    predictions[1] = {std::vector<double>(y_ctrl.begin(), y_ctrl.end()), std::vector<double>(G, 0.0)};
    predictions[2] = with_control(o, baselines.train_mean(o));
    GroupPrediction row{o.group, y_pred};
    std::vector<double> predicted_effect(G);

    // With the shared response, the common part of every prediction is the training mean
    // (train_mean's estimate of it) and the model adds what it predicts beyond it: its state
    // under the perturbation minus its state under a perturbation with no known target.
    // The model's own common part, fitted jointly with the training perturbations' specific
    // weights, drifts from the training mean where those weights absorb their groups' noise
    // (measured on a real screen: held-out error 0.5% above train_mean's). For a
    // perturbation the model knows nothing about this is train_mean exactly.
    const auto generic = problem.options().shared_response ? problem.predicted_generic(o) : std::vector<double>{};
    const bool calibrated = !generic.empty() && !predictions[2].first.empty();
    if (calibrated)
      for (std::size_t g = 0; g < G; ++g) row.predicted[g] = predictions[2].first[g] + y_pred[g] - generic[g];
    row.fallback = calibrated && !informed[static_cast<std::size_t>(o.perturbation)];
    for (std::size_t g = 0; g < G; ++g) predicted_effect[g] = row.predicted[g] - y_ctrl[g];
    predictions[0] = {row.predicted, std::move(predicted_effect)};
    predictions[3] = with_control(o, baselines.additive(o));
    predictions[5] = with_control(o, baselines.pca_linear(o));
    const auto& same = replicates[{o.perturbation, o.reference}];
    if (same.size() > 1) {
      std::vector<double> e_rep(G, 0.0);
      for (const auto* other : same)
        if (other != &o) {
          const auto e = observed_effect(problem, *other);
          for (std::size_t g = 0; g < G; ++g) e_rep[g] += e[g] / static_cast<double>(same.size() - 1);
        }
      predictions[kReplicate] = with_control(o, e_rep);
    }
    for (std::size_t q = 0; q < kPredictors.size(); ++q) {
      if (predictions[q].first.empty()) continue;
      const double floor_factor =
          q == kReplicate ? static_cast<double>(same.size() - 1) / static_cast<double>(same.size()) : 0.0;
      for (auto s : subsets) {
        accumulate(&sums[slot(q, s)], o.y, predictions[q].first, e_obs, predictions[q].second, top, expressed,
                   floor_factor);
        if (q == 0 && row.fallback) sums[slot(q, s) + 11] += 1;
      }
    }
    rows.push_back(std::move(row));
  }
  // The linear baseline's predictions come block by block, after the loop: each group's
  // observed effect and top genes are formed again rather than kept for every group.
  baselines.for_each_linear(comm, scored, [&](const ObservedGroup& o, const std::vector<double>& effect) {
    const auto e_obs = observed_effect(problem, o);
    const auto top = top_of(e_obs);
    const auto prediction = with_control(o, effect);
    for (auto s : subsets_of(o))
      accumulate(&sums[slot(kLinear, s)], o.y, prediction.first, e_obs, prediction.second, top, expressed, 0.0);
  });
  comm.replicated_sum_in_place(sums);
  nlohmann::json out;
  for (std::size_t q = 0; q < kPredictors.size(); ++q)
    for (std::size_t s = 0; s < kSubsets.size(); ++s) {
      const auto j = summarise(&sums[slot(q, s)]);
      if (!j.is_null()) out[kPredictors[q]][kSubsets[s]] = j;
    }
  return out;
}

nlohmann::json abundance_metrics(FitProblem& problem) {
  using nlohmann::json;
  std::vector<char> fallback;
  const auto predicted = problem.predicted_abundance(&fallback);
  const auto& observations = problem.data().abundance();
  const auto& perts = problem.data().perturbations();
  double train_sum = 0, train_n = 0;
  for (std::size_t i = 0; i < observations.size(); ++i)
    if (problem.abundance_split(observations[i]) == Split::kTrain && std::isfinite(predicted[i]))
      train_sum += observations[i].log_ratio, ++train_n;
  const double train_mean = train_n > 0 ? train_sum / train_n : 0.0;
  // The subsets of the expression metrics: the splits, and the test split by kind of held-out perturbation.
  std::vector<std::string> subset(observations.size());
  for (std::size_t i = 0; i < observations.size(); ++i) {
    const auto split = problem.abundance_split(observations[i]);
    subset[i] = to_string(split);
    if (split == Split::kTest)
      subset[i] +=
          "/" + holdout_category(perts, problem.splits(), static_cast<std::size_t>(observations[i].perturbation));
  }
  json out;
  for (const auto& name : subset_names()) {
    std::vector<double> y, yhat;
    std::size_t fallbacks = 0;
    for (std::size_t i = 0; i < observations.size(); ++i)
      if ((subset[i] == name || subset[i].rfind(name + "/", 0) == 0) && std::isfinite(predicted[i])) {
        y.push_back(observations[i].log_ratio), yhat.push_back(predicted[i]);
        fallbacks += fallback[i] ? 1 : 0;
      }
    if (y.empty() && name.find('/') != std::string::npos) continue;
    double model = 0, zero = 0, mean = 0;
    for (std::size_t i = 0; i < y.size(); ++i) {
      model += (yhat[i] - y[i]) * (yhat[i] - y[i]);
      zero += y[i] * y[i];
      mean += (train_mean - y[i]) * (train_mean - y[i]);
    }
    const double n = static_cast<double>(y.size());
    auto number = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
    out[name] = {
        {"observations", y.size()},
        {"fallback_observations", fallbacks},
        {"mse", {{"model", number(model / n)}, {"no_selection", number(zero / n)}, {"train_mean", number(mean / n)}}},
        {"pearson_model", number(y.size() > 2 ? pearson(y, yhat) : std::nan(""))}};
  }
  return out;
}

}  // namespace perturbfit::fit
