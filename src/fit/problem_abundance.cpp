// The guide-abundance term of the loss (MODEL.md section 7: dw/dt = (r0 + phi . x) w). A
// series (one culture, or one animal) counts every guide at a first and a last time; at
// steady states in between, the log change of a perturbation's share relative to the
// control guides is dt phi . (z_p - z_control) (data/guide_abundance.hpp: r0 and the
// sequencing depths cancel). phi is fitted with the model: the term adds
//   (lambda_abundance / G) sum_o w_o (dt_o phi . (z_p(o) - z_c(o)) - y_o)^2,  w_o = (1/v_o) / sum 1/v
// over the training observations, and its dl/dz enters the same adjoint solves as the data
// term's, for the perturbation's steady state and (through one reduction) the control's.
// Per measured gene (lambda_abundance / G), like the penalties: an observation weighs about
// as much as one gene of its perturbation's profile. At lambda / G = 1 on the selection
// study's 200 genes, the expression fit lost 8-15% of its held-out accuracy (the optimiser
// spent its iterations on the abundance); at 1/G it kept it (docs/in_vivo.md).
// phi is per node, in model units (z = 1: the control level), ridge lambda_l2 like Gamma.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "perturbfit/core/error.hpp"
#include "perturbfit/fit/problem.hpp"

namespace perturbfit::fit {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

void FitProblem::setup_abundance() {
  const auto& observations = data_.abundance();
  if (observations.empty()) return;
  const auto& perts = data_.perturbations();
  // The series' control states, in the same order on every rank (from the global table).
  std::map<std::pair<int, int>, int> slot_of;
  std::size_t skipped_population = 0;
  std::vector<int> slot_of_observation(observations.size(), -1);
  for (std::size_t i = 0; i < observations.size(); ++i) {
    const auto& o = observations[i];
    if (opt_.niche && o.batch < 0) {  // coupled, a state needs its animal's niche
      ++skipped_population;
      continue;
    }
    const auto key = std::make_pair(o.medium, opt_.niche ? o.batch : -1);
    auto [it, inserted] = slot_of.emplace(key, static_cast<int>(abundance_controls_.size()));
    if (inserted) abundance_controls_.push_back({key.first, key.second, -1, false});
    slot_of_observation[i] = it->second;
  }
  for (auto& slot : abundance_controls_) {
    if (!opt_.niche) {  // the control condition of the medium, solved on the root
      for (const auto& ref : references_)
        if (ref.medium == slot.medium) {
          slot.condition = ref.condition;
          break;
        }
      slot.solver = comm_.is_root() && slot.condition >= 0;
      continue;
    }
    for (const auto& g : groups_)  // coupled: the animal's control member, on the rank that owns it
      if (g.owned && perts[static_cast<std::size_t>(g.perturbation)].control && g.batch == slot.animal &&
          data_.groups()[static_cast<std::size_t>(g.group)].medium == slot.medium) {
        slot.condition = g.condition;
        slot.solver = true;
        break;
      }
  }
  std::vector<double> solvers(abundance_controls_.size());
  for (std::size_t s = 0; s < solvers.size(); ++s) solvers[s] = abundance_controls_[s].solver ? 1 : 0;
  comm_.replicated_sum_in_place(solvers);
  std::size_t uncontrolled = 0;
  for (double n : solvers) uncontrolled += n == 0;

  // This rank's terms: observations of its perturbations that one of its conditions predicts.
  std::size_t unpredicted = 0;
  double inverse_variance = 0;
  for (std::size_t i = 0; i < observations.size(); ++i) {
    const auto& o = observations[i];
    if (slot_of_observation[i] < 0 || !data_.owned().contains(static_cast<std::size_t>(o.perturbation))) continue;
    int condition = -1;
    for (const auto& g : groups_)
      if (g.owned && g.perturbation == o.perturbation && g.condition >= 0 &&
          data_.groups()[static_cast<std::size_t>(g.group)].medium == o.medium && (!opt_.niche || g.batch == o.batch)) {
        condition = g.condition;
        break;
      }
    if (condition < 0 || solvers[static_cast<std::size_t>(slot_of_observation[i])] == 0) {
      ++unpredicted;
      continue;
    }
    AbundanceTerm t;
    t.observation = static_cast<int>(i);
    t.condition = condition;
    t.control = slot_of_observation[i];
    t.batch = o.batch;
    t.split = splits_[static_cast<std::size_t>(o.perturbation)];
    if (t.split == Split::kTrain) inverse_variance += 1 / o.variance;
    abundance_terms_.push_back(t);
  }
  inverse_variance = comm_.sum(inverse_variance);
  for (auto& t : abundance_terms_)
    if (t.split == Split::kTrain)
      t.weight = 1 / observations[static_cast<std::size_t>(t.observation)].variance / inverse_variance;
  const auto terms = comm_.sum(static_cast<std::int64_t>(abundance_terms_.size()));
  const auto not_predicted = comm_.sum(static_cast<std::int64_t>(unpredicted));
  fits_abundance_ = true;
  trained_single_target_.assign(params_.gene_names.size(), 0);
  for (std::size_t p = 0; p < perts.size(); ++p)
    if (splits_[p] == Split::kTrain && !perts[p].excluded && perts[p].target_nodes.size() == 1 &&
        perts[p].target_nodes[0] >= 0)
      trained_single_target_[static_cast<std::size_t>(perts[p].target_nodes[0])] = 1;
  params_.fitness.assign(params_.gene_names.size(), 0.0);  // phi = 0: the initial model predicts no selection
  reporter_.info("guide abundance: " + std::to_string(terms) + " observation(s) in the loss or held out, " +
                 std::to_string(abundance_controls_.size()) + " control state(s); fitness weights phi fitted on " +
                 std::to_string(params_.fitness.size()) + " nodes (fit.lambda_abundance = " +
                 std::to_string(opt_.lambda_abundance) + ")");
  if (not_predicted > 0 || skipped_population > 0 || uncontrolled > 0)
    reporter_.warn("guide abundance: " + std::to_string(not_predicted + static_cast<std::int64_t>(skipped_population)) +
                   " observation(s) unused (their perturbation has no cells in the series' medium" +
                   (opt_.niche ? std::string(" and animal, or the series is not an animal of the screen") : "") +
                   (uncontrolled > 0 ? ", or the series has no control cells to give its control state" : "") + ")");
  if (opt_.lambda_abundance > 0 && inverse_variance == 0)
    throw DataError("data.guide_counts gives no guide-abundance change of a training perturbation that the screen's "
                    "cells predict: phi would be fitted to nothing; check the table's perturbation, batch and medium "
                    "labels against the screen's, or remove data.guide_counts");
}

double FitProblem::abundance_prediction(const AbundanceTerm& t, const std::vector<double>& control) const {
  const auto& x = conditions_[static_cast<std::size_t>(t.condition)].x;
  double change = 0;
  for (std::size_t n = 0; n < control.size(); ++n) change += params_.fitness[n] * (x[n] - control[n]);
  return data_.abundance()[static_cast<std::size_t>(t.observation)].dt * change;
}

std::vector<std::vector<double>> FitProblem::exchange_abundance_controls() const {
  const auto N = params_.fitness.size(), S = abundance_controls_.size();
  std::vector<double> flat(S * (N + 1), 0.0);  // per slot: the state, then 1 if it was solved
  for (std::size_t s = 0; s < S; ++s) {
    const auto& slot = abundance_controls_[s];
    if (!slot.solver) continue;
    const auto& c = conditions_[static_cast<std::size_t>(slot.condition)];
    if (!c.solved) continue;
    std::copy(c.x.begin(), c.x.end(), flat.begin() + static_cast<long>(s * (N + 1)));
    flat[s * (N + 1) + N] = 1;
  }
  comm_.replicated_sum_in_place(flat);  // one contributor per slot: exact
  std::vector<std::vector<double>> states(S);
  for (std::size_t s = 0; s < S; ++s)
    if (flat[s * (N + 1) + N] > 0)
      states[s].assign(flat.begin() + static_cast<long>(s * (N + 1)), flat.begin() + static_cast<long>(s * (N + 1) + N));
  return states;
}

void FitProblem::abundance_term(const std::vector<int>& batches, LossValue& value,
                                std::vector<std::vector<double>>* dl_dx, double cells,
                                std::vector<double>* fitness_grad) {
  const auto N = params_.fitness.size(), S = abundance_controls_.size();
  const auto controls = exchange_abundance_controls();
  const auto& observations = data_.abundance();
  const double lambda = opt_.lambda_abundance / static_cast<double>(measured_genes());
  auto selected = [&](int b) {
    return batches.empty() || (b >= 0 && std::find(batches.begin(), batches.end(), b) != batches.end());
  };
  std::vector<double> reduced(1 + (dl_dx ? S * N : 0), 0.0);  // the weighted squares, then each control's dl/dz
  for (const auto& t : abundance_terms_) {
    if (t.split != Split::kTrain || !selected(t.batch)) continue;
    const auto& c = conditions_[static_cast<std::size_t>(t.condition)];
    const auto& xc = controls[static_cast<std::size_t>(t.control)];
    if (!c.solved || xc.empty()) continue;  // counted among the failed steady states
    const auto& o = observations[static_cast<std::size_t>(t.observation)];
    const double r = abundance_prediction(t, xc) - o.log_ratio;
    reduced[0] += t.weight * r * r;
    if (!dl_dx) continue;
    const double coeff = 2 * lambda * t.weight * r * o.dt;
    auto& dx = (*dl_dx)[static_cast<std::size_t>(t.condition)];
    if (dx.empty()) dx.assign(N, 0.0);
    double* control = reduced.data() + 1 + static_cast<std::size_t>(t.control) * N;
    for (std::size_t n = 0; n < N; ++n) {
      (*fitness_grad)[n] += cells * coeff * (c.x[n] - xc[n]);
      dx[n] += cells * coeff * params_.fitness[n];
      control[n] -= coeff * params_.fitness[n];
    }
  }
  comm_.replicated_sum_in_place(reduced);
  value.abundance = lambda * reduced[0];
  if (!dl_dx) return;
  for (std::size_t s = 0; s < S; ++s) {
    const auto& slot = abundance_controls_[s];
    if (!slot.solver) continue;
    auto& dx = (*dl_dx)[static_cast<std::size_t>(slot.condition)];
    if (dx.empty()) dx.assign(N, 0.0);
    for (std::size_t n = 0; n < N; ++n) dx[n] += cells * reduced[1 + s * N + n];
  }
}

bool FitProblem::abundance_informed(int perturbation) const {
  if (splits_[static_cast<std::size_t>(perturbation)] == Split::kTrain) return true;  // its own change is fitted
  const auto& targets = data_.perturbations()[static_cast<std::size_t>(perturbation)].target_nodes;
  for (int t : targets)
    if (t < 0 || !trained_single_target_[static_cast<std::size_t>(t)]) return false;
  return !targets.empty();
}

std::vector<double> FitProblem::predicted_abundance(std::vector<char>* fallback) {
  const auto controls = exchange_abundance_controls();
  const auto& observations = data_.abundance();
  std::vector<double> values(2 * observations.size(), 0.0);  // prediction, then 1 where predicted
  for (const auto& t : abundance_terms_) {
    const auto& c = conditions_[static_cast<std::size_t>(t.condition)];
    const auto& xc = controls[static_cast<std::size_t>(t.control)];
    if (!c.solved || xc.empty()) continue;
    const auto i = static_cast<std::size_t>(t.observation);
    values[i] = abundance_informed(observations[i].perturbation) ? abundance_prediction(t, xc) : 0.0;
    values[observations.size() + i] = 1;
  }
  comm_.replicated_sum_in_place(values);
  std::vector<double> predicted(observations.size(), kNaN);
  for (std::size_t i = 0; i < predicted.size(); ++i)
    if (values[observations.size() + i] > 0) predicted[i] = values[i];
  if (fallback) {
    fallback->assign(observations.size(), 0);
    for (std::size_t i = 0; i < predicted.size(); ++i)
      (*fallback)[i] = std::isfinite(predicted[i]) && !abundance_informed(observations[i].perturbation);
  }
  return predicted;
}

}  // namespace perturbfit::fit
