#include "perturbfit/fit/assumptions.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <map>
#include <sstream>

#include "perturbfit/core/random.hpp"
#include "perturbfit/solvers/steady_state_problem.hpp"

namespace perturbfit::fit {

namespace {

using nlohmann::json;
constexpr int kNoiseDraws = 8;

// Sampling variance of each control group's log pseudo-bulk, per gene, by group id (the
// checks below use only the control groups').
std::map<int, std::vector<double>> sampling_variances(const FitProblem& problem) {
  const auto stats = problem.data().statistics({.log_moments = true, .perturbed_groups = false});
  const auto G = static_cast<std::size_t>(stats.genes);
  std::map<int, double> cells;
  for (const auto& o : problem.groups()) cells[o.group] = o.cells;
  std::map<int, std::vector<double>> out;
  for (std::size_t h = 0; h < stats.groups.size(); ++h) {
    const double n = cells.count(stats.groups[h]) ? cells[stats.groups[h]] : 0.0;
    if (n < 2) continue;
    std::vector<double> v(G);
    for (std::size_t g = 0; g < G; ++g) {
      const double mean = stats.sum_row(h)[g] / n;
      v[g] = std::max(0.0, stats.sum_sq_row(h)[g] / n - mean * mean) / n;
    }
    out[stats.groups[h]] = std::move(v);
  }
  return out;
}

bool is_control_group(const FitProblem& problem, const ObservedGroup& o) {
  return problem.data().perturbations()[static_cast<std::size_t>(o.perturbation)].control && o.control >= 0 &&
         &problem.control_group(o.control) == &o;
}

// Per reference: the sampling variance of its de-noised control profile (the unweighted mean
// of its control groups' profiles), and how many control groups it has.
std::vector<std::pair<std::vector<double>, int>> reference_noise(const FitProblem& problem,
                                                                 const std::map<int, std::vector<double>>& var) {
  const auto G = static_cast<std::size_t>(problem.measured_genes());
  std::vector<std::pair<std::vector<double>, int>> out(problem.references().size(), {std::vector<double>(G, 0.0), 0});
  for (const auto& o : problem.groups()) {
    if (!is_control_group(problem, o) || !var.count(o.group)) continue;
    auto& [v, count] = out[static_cast<std::size_t>(o.reference)];
    for (std::size_t g = 0; g < G; ++g) v[g] += var.at(o.group)[g];
    ++count;
  }
  for (auto& [v, count] : out)
    for (auto& x : v) x /= std::max(1, count * count);
  return out;
}

json controls_at_steady_state(const FitProblem& problem,
                              const std::vector<std::pair<std::vector<double>, int>>& noise) {
  const auto G = static_cast<std::size_t>(problem.measured_genes());
  const double eps = problem.options().pseudocount;
  const auto& S = problem.scale();
  const auto& gamma = problem.parameters().gamma;
  double worst = 0;
  json per_context = json::array();
  for (std::size_t r = 0; r < problem.references().size(); ++r) {
    const auto& ref = problem.references()[r];
    const auto condition = problem.context_condition({}, static_cast<int>(r), -1, true);
    // Unobserved nodes take the model's control steady state (as in the steady-state term).
    std::vector<double> z = ref.state;
    if (static_cast<std::size_t>(problem.nodes()) > G) {
      solvers::SteadyStateProblem solver(problem.field(), problem.options().steady, 0);
      std::vector<std::vector<double>> xs{ref.state};
      if (solver.solve({&condition}, xs, {&ref.state})[0].converged)
        std::copy(xs[0].begin() + static_cast<long>(G), xs[0].end(), z.begin() + static_cast<long>(G));
    }
    auto relative_residual = [&](const std::vector<double>& state) {
      std::vector<double> f(state.size()), rel(G);
      problem.field().evaluate(state.data(), condition, std::numeric_limits<double>::infinity(), f.data());
      for (std::size_t g = 0; g < G; ++g) rel[g] = f[g] / (gamma[g] * (eps / S[g] + state[g]));
      return rel;
    };
    const auto r0 = relative_residual(z);
    double observed = 0;
    for (double x : r0) observed += x * x;
    observed = std::sqrt(observed / static_cast<double>(G));
    double moved = 0;
    for (int d = 0; d < kNoiseDraws; ++d) {
      auto drawn = z;
      for (std::size_t g = 0; g < G; ++g) {
        RandomStream rng(1, StreamDomain::kAssumptions, static_cast<std::uint64_t>(d) * G + g);
        const double y = std::log(eps + S[g] * z[g]) + std::sqrt(noise[r].first[g]) * rng.normal();
        drawn[g] = std::max(0.0, (std::exp(y) - eps) / S[g]);
      }
      const auto rd = relative_residual(drawn);
      for (std::size_t g = 0; g < G; ++g) moved += (rd[g] - r0[g]) * (rd[g] - r0[g]);
    }
    const double noise_rms = std::sqrt(moved / (kNoiseDraws * static_cast<double>(G)));
    const double ratio = noise_rms > 0 ? observed / noise_rms : std::numeric_limits<double>::infinity();
    worst = std::max(worst, ratio);
    per_context.push_back({{"medium", problem.data().media()[static_cast<std::size_t>(ref.medium)]},
                           {"time", problem.data().times()[static_cast<std::size_t>(ref.time)]},
                           {"residual_rms", observed},
                           {"noise_rms", noise_rms},
                           {"ratio", ratio}});
  }
  auto out = assumption(
      "controls_at_steady_state", worst,
      "largest over contexts of RMS relative residual f / (gamma (eps/S + z)) at the observed control state, "
      "divided by its RMS change under the controls' sampling noise",
      kSteadyStateRatio, worst <= kSteadyStateRatio ? "pass" : "fail",
      "the fitted f moves the observed control state by " + std::to_string(worst) +
          "x what the controls' sampling noise explains",
      "raise fit.lambda_ss (the steady-state term on controls); if the controls are not at a steady state "
      "(differentiating cells, recent medium change) they need time-matched controls and a time-course fit");
  out["contexts"] = per_context;
  return out;
}

json instant_perturbation(const FitProblem& problem, const parallel::Comm& comm) {
  const auto& times = problem.data().times();
  if (times.size() < 2)
    return assumption("instant_perturbation", nullptr, "", kInstantRatio, "not applicable",
                      "one time point: a steady-state screen says nothing of the onset", "");
  const auto G = static_cast<std::size_t>(problem.measured_genes());
  auto time_value = [&](int t) {
    try {
      return std::stod(times[static_cast<std::size_t>(t)]);
    } catch (const std::exception&) {
      return std::numeric_limits<double>::infinity();
    }
  };
  // Per owned perturbation: (time, effect RMS) of its groups.
  std::map<int, std::vector<std::pair<double, double>>> by_perturbation;
  for (const auto& o : problem.groups()) {
    if (!o.owned || o.control < 0 || problem.data().perturbations()[static_cast<std::size_t>(o.perturbation)].control)
      continue;
    const auto& c = problem.control_group(o.control).y;
    double s = 0;
    for (std::size_t g = 0; g < G; ++g) s += (o.y[g] - c[g]) * (o.y[g] - c[g]);
    const int t = problem.data().groups()[static_cast<std::size_t>(o.group)].time;
    by_perturbation[o.perturbation].push_back({time_value(t), std::sqrt(s / static_cast<double>(G))});
  }
  std::vector<double> ratios;
  for (auto& [p, v] : by_perturbation) {
    // The mean over batches of the RMS effect at the earliest and at the latest time.
    std::sort(v.begin(), v.end());
    double early = 0, late = 0, n_early = 0, n_late = 0;
    for (const auto& [t, rms] : v) {
      if (t == v.front().first) early += rms, n_early += 1;
      if (t == v.back().first) late += rms, n_late += 1;
    }
    if (v.front().first < v.back().first && late > 0) ratios.push_back((early / n_early) / (late / n_late));
  }
  auto all = comm.all_gather(ratios);
  if (all.empty())
    return assumption("instant_perturbation", nullptr, "", kInstantRatio, "not applicable",
                      "no perturbation is measured at two time points", "");
  std::sort(all.begin(), all.end());
  const double median = all[all.size() / 2];
  return assumption(
      "instant_perturbation", median,
      "median over perturbations measured at several times of RMS effect at the earliest time / at the "
      "latest",
      kInstantRatio, median >= kInstantRatio ? "pass" : "fail",
      std::to_string(all.size()) + " perturbations; early effects are " + std::to_string(median) + " of late ones",
      problem.time_course() ? "perturbations act gradually: this fit integrates the time course; check that "
                              "fit.onset_tau is the protocol's onset"
                            : "perturbations act gradually: fit the time course (fit.dynamics = time_course, "
                              "fit.onset_tau = the protocol's onset) rather than each time point as a steady state");
}

json exchangeable_batches(const FitProblem& problem, const std::map<int, std::vector<double>>& var) {
  const auto G = static_cast<std::size_t>(problem.measured_genes());
  std::map<int, int> per_reference;
  double offset = 0, noise = 0;
  for (const auto& o : problem.groups())
    if (is_control_group(problem, o)) ++per_reference[o.reference];
  for (const auto& o : problem.groups()) {
    if (!is_control_group(problem, o) || !var.count(o.group) || per_reference[o.reference] < 2) continue;
    // Under exchangeable batches a batch's offset (its controls minus their mean over batches) is
    // sampling noise with variance (1 - 1/B) v (B control groups of equal noise).
    const double keep = 1.0 - 1.0 / per_reference[o.reference];
    for (std::size_t g = 0; g < G; ++g) offset += o.delta[g] * o.delta[g], noise += keep * var.at(o.group)[g];
  }
  if (noise <= 0)
    return assumption("exchangeable_batches", nullptr, "", kExchangeableRatio, "not applicable",
                      "fewer than two batches with controls in every context: no batch offset to compare", "");
  const double ratio = offset / noise;
  return assumption("exchangeable_batches", ratio,
                    "sum over control groups and genes of squared batch offset / its expectation under sampling noise "
                    "alone",
                    kExchangeableRatio, ratio <= kExchangeableRatio ? "pass" : "fail",
                    "batch offsets are " + std::to_string(ratio) + "x what sampling noise explains" +
                        (ratio > kExchangeableRatio ? ": batches are not exchangeable (the fit estimates each batch's "
                                                      "offset from its own controls and contrasts within batches)"
                                                    : ""),
                    "keep controls in every batch and same-batch contrasts; never pool controls across batches; "
                    "a method that treats batches as exchangeable is biased on this screen");
}

json controls_ignore_medium(const FitProblem& problem, const std::vector<std::pair<std::vector<double>, int>>& noise) {
  const auto& refs = problem.references();
  const auto G = static_cast<std::size_t>(problem.measured_genes());
  const double eps = problem.options().pseudocount;
  double worst = -1;
  for (std::size_t a = 0; a < refs.size(); ++a)
    for (std::size_t b = a + 1; b < refs.size(); ++b) {
      if (refs[a].time != refs[b].time || refs[a].medium == refs[b].medium) continue;
      double diff = 0, var = 0;
      for (std::size_t g = 0; g < G; ++g) {
        const double d = std::log(eps + refs[a].level[g]) - std::log(eps + refs[b].level[g]);
        diff += d * d, var += noise[a].first[g] + noise[b].first[g];
      }
      if (var > 0) worst = std::max(worst, diff / var);
    }
  if (worst < 0)
    return assumption("controls_ignore_medium", nullptr, "", kMediumRatio, "not applicable",
                      "one medium: nothing to compare the controls across", "");
  return assumption("controls_ignore_medium", worst,
                    "largest over pairs of media of the squared difference of their control profiles / its sampling "
                    "variance, summed over genes",
                    kMediumRatio, worst <= kMediumRatio ? "pass" : "fail",
                    "the control profiles of two media differ by " + std::to_string(worst) + "x their sampling noise" +
                        (worst > kMediumRatio ? ": controls respond to the medium" : ""),
                    "contrast each medium's perturbations with that medium's controls (the fit does); give the media "
                    "as inputs ([[protocol]] medium steps) so the model learns the response");
}

}  // namespace

json assumption(const std::string& name, const json& statistic, const std::string& statistic_meaning,
                const json& threshold, const std::string& verdict, const std::string& detail,
                const std::string& what_to_change) {
  auto number = [](const json& v) { return v.is_number() && !std::isfinite(v.get<double>()) ? json("inf") : v; };
  return {{"assumption", name},
          {"statistic", number(statistic)},
          {"statistic_meaning", statistic_meaning},
          {"threshold", threshold},
          {"verdict", verdict},
          {"detail", detail},
          {"what_to_change", verdict == "fail" ? what_to_change : ""}};
}

json assumption_checks(const FitProblem& problem, const parallel::Comm& comm, const json& attractors) {
  const auto var = sampling_variances(problem);
  const auto noise = reference_noise(problem, var);
  json checks = json::array();
  checks.push_back(controls_at_steady_state(problem, noise));
  checks.push_back(attractors.is_null()
                       ? assumption("unique_attractor", nullptr, "", 0, "not tested",
                                    "run `perturbfit check DECK --model OUT/fit.h5` (a multistart of every "
                                    "perturbation)",
                                    "")
                       : attractors);
  checks.push_back(instant_perturbation(problem, comm));
  checks.push_back(exchangeable_batches(problem, var));
  checks.push_back(controls_ignore_medium(problem, noise));
  return checks;
}

std::string assumption_table(const json& checks) {
  std::ostringstream os;
  os << "assumptions (MODEL.md section 1, point 4)\n";
  for (const auto& c : checks) {
    os << "  " << std::left << std::setw(26) << c["assumption"].get<std::string>() << std::setw(16)
       << c["verdict"].get<std::string>();
    if (c["statistic"].is_number())
      os << "statistic " << std::setprecision(4) << c["statistic"].get<double>() << " (threshold "
         << c["threshold"].get<double>() << ")";
    else if (c["statistic"].is_string())
      os << "statistic " << c["statistic"].get<std::string>();
    os << "\n    " << c["detail"].get<std::string>() << "\n";
    if (!c["what_to_change"].get<std::string>().empty())
      os << "    what to change: " << c["what_to_change"].get<std::string>() << "\n";
  }
  return os.str();
}

}  // namespace perturbfit::fit
