#include "perturbfit/analysis/prediction.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "perturbfit/analysis/contexts.hpp"
#include "perturbfit/config/deck.hpp"
#include "perturbfit/core/error.hpp"
#include "perturbfit/core/text.hpp"
#include "perturbfit/solvers/steady_state_problem.hpp"
#include "perturbfit/solvers/trajectory.hpp"

namespace perturbfit::analysis {

namespace {
// Where the other starts begin: the control state scaled by these factors in turn.
constexpr double kStartFactors[] = {0.3, 3.0, 0.1, 10.0};

// The k-th other start (from 0): the control state scaled by 0.3, 3, 0.1, 10, then twice those, ...
double start_factor(int k) { return kStartFactors[k % 4] * static_cast<double>(1 + k / 4); }

// A converged other start's state (measured) into the row's uniqueness record.
void record_other_start(PredictedRow& row, const std::vector<double>& other) {
  ++row.other_starts_converged;
  for (std::size_t g = 0; g < other.size(); ++g)
    row.start_spread = std::max(row.start_spread, std::abs(other[g] - row.expression[g]));
  row.non_unique = row.start_spread > kUniqueTolerance;
}
}  // namespace

std::string PredictionProtocol::final_medium() const {
  std::string name;
  for (const auto& s : steps)
    if (s.kind == ProtocolStep::Kind::kMedium) name = s.medium;
  return name;
}

PredictionProtocol parse_prediction_protocol(const fit::FitProblem& problem, const std::string& text) {
  if (problem.niche_coupled())
    throw UsageError("--protocol with fit.niche = coupled: a protocol's niche would have to be solved with every "
                     "animal's groups, which predict does not do; predict in the screen's contexts instead");
  PredictionProtocol out;
  const auto& media = problem.data().media();
  // The fitted inputs of each medium of the screen (from a context of that medium).
  auto screen_medium = [&](const std::string& name) -> std::vector<double> {
    for (std::size_t r = 0; r < problem.references().size(); ++r) {
      const auto& ref = problem.references()[r];
      if (media[static_cast<std::size_t>(ref.medium)] == name)
        return problem.context_condition({}, static_cast<int>(r), -1, true).medium;
    }
    return {};
  };
  const auto K = problem.context_condition({}, 0, -1, true).medium.size();
  bool perturbed = false, settled = true;
  for (const auto& word : split_trimmed(text, ";")) {
    const std::string where = "--protocol step '" + word + "'";
    ProtocolStep step;
    if (word == "perturb") {
      if (perturbed) throw UsageError(where + ": the protocol perturbs twice");
      step.kind = ProtocolStep::Kind::kPerturb, perturbed = true, settled = false;
    } else if (word == "equilibrate") {
      step.kind = ProtocolStep::Kind::kEquilibrate, settled = true;
    } else if (word.rfind("medium=", 0) == 0) {
      step.kind = ProtocolStep::Kind::kMedium, settled = false;
      const auto spec = word.substr(7);
      const auto colon = spec.find(':');
      step.medium = trim(spec.substr(0, colon));
      if (colon == std::string::npos) {
        step.values = screen_medium(step.medium);
        if (step.values.empty())
          throw UsageError(where + ": '" + step.medium + "' is not a medium of the screen (did you mean '" +
                           config::nearest(step.medium, media) + "'?); give a new one its " + std::to_string(K) +
                           " input value(s): medium=" + step.medium + ":v1,...");
      } else {
        for (const auto& v : split_trimmed(spec.substr(colon + 1), ",")) {
          try {
            std::size_t used = 0;
            step.values.push_back(std::stod(v, &used));
            if (used != v.size()) throw std::invalid_argument(v);
          } catch (const std::exception&) {
            throw UsageError(where + ": '" + v + "' is not a number");
          }
        }
        if (step.values.size() != K)
          throw UsageError(where + ": the model has " + std::to_string(K) + " medium input(s), the step gives " +
                           std::to_string(step.values.size()));
      }
    } else if (word == "evolve" || word.rfind("evolve", 0) == 0) {
      throw UsageError(where + ": evolve steps are not implemented in --protocol; predict runs medium, perturb and "
                               "equilibrate steps (a time-course fit predicts its screen's own times with "
                               "--perturbations or --groups)");
    } else {
      throw UsageError(where + ": unknown step; use medium=NAME[:values], perturb, equilibrate separated by ';'");
    }
    out.steps.push_back(std::move(step));
  }
  if (!perturbed) throw UsageError("--protocol '" + text + "' never perturbs: add a 'perturb' step");
  if (!settled) throw UsageError("--protocol '" + text + "' ends without an equilibrate after its last change");
  if (out.final_medium().empty())
    throw UsageError("--protocol '" + text + "' sets no medium: start it with medium=NAME");
  return out;
}

Predictor::Predictor(fit::FitProblem& problem, const parallel::Comm& comm, int other_starts)
    : problem_(problem), baselines_(problem, comm), other_starts_(std::max(0, other_starts)) {
  // Coupled, a prediction sits in a niche: that of the fitted model's own groups.
  if (problem_.niche_coupled()) (void)problem_.solve_all(false);
}

model::Condition Predictor::condition(const PredictionQuery& q) const {
  const int animal = q.control_group >= 0 ? problem_.control_group(q.control_group).batch : -1;
  return problem_.context_condition(q.targets, q.reference, animal);
}

std::vector<double> Predictor::measured(const std::vector<double>& x, const PredictionQuery& q) const {
  std::vector<double> y(static_cast<std::size_t>(problem_.measured_genes()));
  const double* delta = q.control_group >= 0 ? problem_.control_group(q.control_group).delta.data() : nullptr;
  const auto& scale = problem_.scale();
  for (std::size_t g = 0; g < y.size(); ++g)
    y[g] = std::log(problem_.options().pseudocount + scale[g] * x[g]) + (delta ? delta[g] : 0.0);
  return y;
}

std::vector<double> Predictor::control_profile(const PredictionQuery& q) const {
  if (q.control_group >= 0) {
    const auto& y = problem_.control_group(q.control_group).y;
    return {y.begin(), y.end()};
  }
  // No batch: the de-noised control level, log(eps + level) = mean over control groups of y - delta.
  const auto& level = problem_.references()[static_cast<std::size_t>(q.reference)].level;
  std::vector<double> y(level.size());
  for (std::size_t g = 0; g < y.size(); ++g) y[g] = std::log(problem_.options().pseudocount + level[g]);
  return y;
}

std::vector<double> Predictor::common_effect(int reference) const {
  auto mean = problem_.options().shared_response ? baselines_.train_mean(reference) : std::vector<double>{};
  if (mean.empty()) mean.assign(static_cast<std::size_t>(problem_.measured_genes()), 0.0);
  return mean;
}

std::vector<solvers::SteadyStateReport> Predictor::solve_columns(const std::vector<const model::Condition*>& conds,
                                                                 std::vector<std::vector<double>>& xs,
                                                                 const std::vector<const std::vector<double>*>& retry,
                                                                 const std::vector<double>& times) const {
  std::vector<solvers::SteadyStateReport> reports(conds.size());
  std::vector<std::size_t> steady;
  solvers::Trajectory trajectory(problem_.field(), problem_.options().trajectory);
  std::vector<std::vector<double>> states;
  for (std::size_t k = 0; k < conds.size(); ++k) {
    if (!std::isfinite(times[k])) {
      steady.push_back(k);
      continue;
    }
    const auto r = trajectory.forward(*conds[k], xs[k], {times[k]}, states, false);
    reports[k].converged = r.ok;
    reports[k].method = solvers::SolveMethod::kTimeCourse;
    if (r.ok) xs[k] = std::move(states.front());
  }
  if (steady.empty()) return reports;
  std::vector<const model::Condition*> some_conds;
  std::vector<std::vector<double>> some_xs;
  std::vector<const std::vector<double>*> some_retry;
  for (std::size_t k : steady)
    some_conds.push_back(conds[k]), some_xs.push_back(std::move(xs[k])), some_retry.push_back(retry[k]);
  auto options = problem_.options().steady;
  options.stability = solvers::StabilityMode::kSkip;
  solvers::SteadyStateProblem solver(problem_.field(), options, problem_.options().batch_size);
  auto some = solver.solve(some_conds, some_xs, some_retry);
  for (std::size_t j = 0; j < steady.size(); ++j) reports[steady[j]] = std::move(some[j]), xs[steady[j]] = std::move(some_xs[j]);
  return reports;
}

std::vector<PredictedRow> Predictor::predict(const std::vector<PredictionQuery>& queries) const {
  const auto G = static_cast<std::size_t>(problem_.measured_genes());
  const bool calibrated = problem_.options().shared_response;
  // Columns: each query from the control state, its other starts, and (calibrated) one
  // perturbation of no known target per context (reference, animal).
  // In a time-course fit a context at a finite time is the state at that time of the
  // trajectory from its medium's initial controls (as the fit's groups), not a steady state.
  std::vector<model::Condition> conds;
  std::vector<std::vector<double>> xs;
  std::vector<const std::vector<double>*> retry;
  std::vector<double> times;  // per column: infinity, or the time of its trajectory
  conds.reserve(queries.size() * (1 + static_cast<std::size_t>(other_starts_)) + queries.size());
  std::vector<std::size_t> primary(queries.size()), generic(queries.size());
  std::map<std::pair<int, int>, std::size_t> generic_of;
  auto add = [&](model::Condition c, std::vector<double> start, const std::vector<double>* from, double time) {
    if (std::isfinite(time)) c.tau = problem_.options().onset_tau;
    conds.push_back(std::move(c)), xs.push_back(std::move(start)), retry.push_back(from), times.push_back(time);
    return conds.size() - 1;
  };
  for (std::size_t i = 0; i < queries.size(); ++i) {
    const auto& q = queries[i];
    const double time = problem_.reference_time(q.reference);
    const int initial = problem_.initial_reference(q.reference);
    const auto& state = problem_.references()[static_cast<std::size_t>(initial >= 0 ? initial : q.reference)].state;
    primary[i] = add(condition(q), state, &state, time);
    for (int s = 0; s < other_starts_ && !std::isfinite(time); ++s) {  // a trajectory has one start
      auto start = state;
      for (auto& v : start) v *= start_factor(s);
      add(conds[primary[i]], std::move(start), nullptr, time);
    }
    if (!calibrated) continue;
    const int animal =
        problem_.niche_coupled() && q.control_group >= 0 ? problem_.control_group(q.control_group).batch : -1;
    const auto key = std::make_pair(q.reference, animal);
    if (!generic_of.count(key)) {
      PredictionQuery none = q;
      none.targets.clear();
      generic_of[key] = add(condition(none), state, &state, time);
    }
    generic[i] = generic_of[key];
  }
  std::vector<const model::Condition*> pointers;
  for (const auto& c : conds) pointers.push_back(&c);
  const auto reports = solve_columns(pointers, xs, retry, times);
  // Stability of the predicted steady states only (not of the other starts', the probes' or a
  // trajectory's).
  std::vector<const model::Condition*> tested;
  std::vector<std::vector<double>> tested_x;
  std::vector<solvers::SteadyStateReport> tested_reports;
  std::vector<char> has_test(queries.size(), 0);
  for (std::size_t i = 0; i < queries.size(); ++i)
    if (reports[primary[i]].converged && !std::isfinite(times[primary[i]])) {
      has_test[i] = 1;
      tested.push_back(pointers[primary[i]]), tested_x.push_back(xs[primary[i]]);
      tested_reports.push_back(reports[primary[i]]);
    }
  auto check = problem_.options().steady;
  check.stability = solvers::StabilityMode::kCheck;
  solvers::SteadyStateProblem(problem_.field(), check, problem_.options().batch_size)
      .assess_stability(tested, tested_x, tested_reports);

  std::vector<PredictedRow> rows(queries.size());
  std::size_t t = 0;
  for (std::size_t i = 0; i < queries.size(); ++i) {
    const auto& q = queries[i];
    auto& row = rows[i];
    const auto& r = reports[primary[i]];
    row.converged = r.converged;
    row.informative = problem_.informative_targets(q.targets);
    if (!r.converged) continue;
    if (has_test[i])
      row.stable = tested_reports[t].stable, row.leading_eigenvalue = tested_reports[t].leading_eigenvalue, ++t;
    row.expression = measured(xs[primary[i]], q);
    for (int s = 0; s < other_starts_ && has_test[i]; ++s) {  // a trajectory has no other starts
      const std::size_t k = primary[i] + 1 + static_cast<std::size_t>(s);
      if (reports[k].converged) record_other_start(row, measured(xs[k], q));
    }
    const auto control = control_profile(q);
    // As the fit's evaluation: the training mean's prediction plus what the model predicts
    // beyond a perturbation with no known target (for an uninformative one, train_mean exactly).
    const auto mean = baselines_.train_mean(q.reference);
    if (calibrated && reports[generic[i]].converged && !mean.empty()) {
      const auto none = measured(xs[generic[i]], q);
      for (std::size_t g = 0; g < G; ++g) row.expression[g] = control[g] + mean[g] + row.expression[g] - none[g];
    }
    row.effect.resize(G);
    for (std::size_t g = 0; g < G; ++g) row.effect[g] = row.expression[g] - control[g];
  }
  return rows;
}

std::vector<PredictedRow> Predictor::predict(const std::vector<PredictionQuery>& queries,
                                             const PredictionProtocol& protocol) const {
  const auto G = static_cast<std::size_t>(problem_.measured_genes());
  // Columns: each query, its other starts (from its state before the last equilibrate,
  // scaled), and one control run of the protocol (no perturbation).
  const std::size_t per = 1 + static_cast<std::size_t>(other_starts_);
  const std::size_t n = queries.size() * per + 1, control = n - 1;
  const auto& start = problem_.references().front().state;
  std::vector<std::vector<double>> xs(n, start);
  std::vector<model::Condition> conds(n);
  std::vector<char> alive(n, 1);
  std::vector<solvers::SteadyStateReport> last(n);
  std::size_t last_equilibrate = 0;
  for (std::size_t i = 0; i < protocol.steps.size(); ++i)
    if (protocol.steps[i].kind == ProtocolStep::Kind::kEquilibrate) last_equilibrate = i;
  auto options = problem_.options().steady;
  options.stability = solvers::StabilityMode::kSkip;
  solvers::SteadyStateProblem solver(problem_.field(), options, problem_.options().batch_size);
  for (std::size_t i = 0; i < protocol.steps.size(); ++i) {
    const auto& step = protocol.steps[i];
    if (step.kind == ProtocolStep::Kind::kMedium) {
      for (auto& c : conds) c.medium = step.values;
    } else if (step.kind == ProtocolStep::Kind::kPerturb) {
      for (std::size_t q = 0; q < queries.size(); ++q) {
        const auto knock = problem_.perturbation_condition(queries[q].targets, 0).knock;
        for (std::size_t s = 0; s < per; ++s) conds[q * per + s].knock = knock;
      }
    } else {
      if (i == last_equilibrate)  // the uniqueness test: other starts around where cells are
        for (std::size_t q = 0; q < queries.size(); ++q)
          for (std::size_t s = 1; s < per; ++s) {
            auto& x = xs[q * per + s];
            for (auto& v : x) v *= start_factor(static_cast<int>(s) - 1);
          }
      std::vector<const model::Condition*> pointers;
      std::vector<std::size_t> which;
      std::vector<std::vector<double>> batch;
      for (std::size_t k = 0; k < n; ++k)
        if (alive[k]) pointers.push_back(&conds[k]), which.push_back(k), batch.push_back(xs[k]);
      const auto reports = solver.solve(pointers, batch);
      for (std::size_t j = 0; j < which.size(); ++j) {
        last[which[j]] = reports[j];
        if (!reports[j].converged) alive[which[j]] = 0;
        xs[which[j]] = std::move(batch[j]);
      }
    }
  }
  // Stability of each query's final state and of the control run's.
  std::vector<const model::Condition*> tested;
  std::vector<std::vector<double>> tested_x;
  std::vector<solvers::SteadyStateReport> tested_reports;
  std::vector<std::size_t> tested_column;
  for (std::size_t k = 0; k < n; ++k)
    if (alive[k] && (k == control || k % per == 0))
      tested.push_back(&conds[k]), tested_x.push_back(xs[k]), tested_reports.push_back(last[k]), tested_column.push_back(k);
  auto check = problem_.options().steady;
  check.stability = solvers::StabilityMode::kCheck;
  solvers::SteadyStateProblem(problem_.field(), check, problem_.options().batch_size)
      .assess_stability(tested, tested_x, tested_reports);
  for (std::size_t t = 0; t < tested_column.size(); ++t) last[tested_column[t]] = tested_reports[t];

  const PredictionQuery none{};
  const auto control_expression = alive[control] ? measured(xs[control], none) : std::vector<double>{};
  std::vector<PredictedRow> rows(queries.size());
  for (std::size_t q = 0; q < queries.size(); ++q) {
    auto& row = rows[q];
    const std::size_t k = q * per;
    row.informative = problem_.informative_targets(queries[q].targets);
    row.converged = alive[k] && alive[control];
    if (!row.converged) continue;
    row.stable = last[k].stable && last[control].stable;
    row.leading_eigenvalue = last[k].leading_eigenvalue;
    row.expression = measured(xs[k], none);
    for (std::size_t s = 1; s < per; ++s) {
      if (alive[k + s]) record_other_start(row, measured(xs[k + s], none));
    }
    row.effect.resize(G);
    for (std::size_t g = 0; g < G; ++g) row.effect[g] = row.expression[g] - control_expression[g];
  }
  return rows;
}

}  // namespace perturbfit::analysis
