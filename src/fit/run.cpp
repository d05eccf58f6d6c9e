#include "perturbfit/fit/run.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>

#include "perturbfit/core/error.hpp"
#include "perturbfit/core/json_text.hpp"
#include "perturbfit/fit/assumptions.hpp"
#include "perturbfit/fit/checkpoint.hpp"
#include "perturbfit/fit/evaluation.hpp"
#include "perturbfit/fit/fit_output.hpp"
#include "perturbfit/fit/gradient_check.hpp"
#include "perturbfit/fit/optimizer.hpp"
#include "perturbfit/fit/problem.hpp"
#include "perturbfit/fit/session.hpp"
#include "perturbfit/fit/truth_recovery.hpp"
#include "perturbfit/io/atomic_file.hpp"

namespace perturbfit::fit {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// data.likelihood = nb: the fitted measurement's spread over genes, for metrics.json and the
// log (a size at its bound says the data wanted it further: Poisson-like or all noise).
json measurement_summary(const FitProblem& problem, const Reporter& reporter) {
  auto quantiles = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    auto at = [&](double q) { return v.empty() ? 0.0 : v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))]; };
    return json{{"min", at(0.0)}, {"q10", at(0.1)}, {"median", at(0.5)}, {"q90", at(0.9)}, {"max", at(1.0)}};
  };
  json m{{"nb_size", quantiles(problem.nb_size())}};
  if (!problem.nb_dropout().empty()) m["dropout"] = quantiles(problem.nb_dropout());
  reporter.info("measurement: NB size per gene median " + m["nb_size"]["median"].dump() + " (10%-90% " +
                m["nb_size"]["q10"].dump() + " - " + m["nb_size"]["q90"].dump() + ")" +
                (m.contains("dropout") ? ", dropout median " + m["dropout"]["median"].dump() : std::string()));
  return m;
}

// The fitted niche, for metrics.json and the log: how far apart the animals' niches are is
// what the data could identify the coupling from (docs/in_vivo.md).
json niche_summary(const FitProblem& problem, const Reporter& reporter) {
  const auto& n = problem.niche_factors();
  const auto K = static_cast<std::size_t>(problem.parameters().media);
  const std::size_t animals = K > 0 ? n.size() / K : 0;
  double spread = 0.0, largest = 0.0, gamma = 0.0;
  for (std::size_t k = 0; k < K; ++k) {
    double lo = 0.0, hi = 0.0;
    for (std::size_t a = 0; a < animals; ++a) {
      const double v = n[a * K + k];
      lo = a == 0 ? v : std::min(lo, v), hi = a == 0 ? v : std::max(hi, v);
      largest = std::max(largest, std::abs(v));
    }
    spread = std::max(spread, hi - lo);
  }
  for (double g : problem.coupling().gamma) gamma = std::max(gamma, std::abs(g));
  const auto& dets = problem.niche_determinants();
  int unstable = 0;
  for (double d : dets) unstable += d < 0 ? 1 : 0;
  const json smallest_det = dets.empty() ? json(nullptr) : json(*std::min_element(dets.begin(), dets.end()));
  reporter.info("niche: " + std::to_string(animals) + " animals, largest factor " + std::to_string(largest) +
                ", largest spread between animals " + std::to_string(spread) + ", largest |Gamma| " +
                std::to_string(gamma) +
                (dets.empty() ? std::string()
                              : ", " + std::to_string(unstable) + " animal(s) unstable through the niche (smallest det(I - Gamma D) " +
                                    smallest_det.dump() + ")"));
  return {{"animals", animals},
          {"channels", K - static_cast<std::size_t>(problem.external_channels())},
          {"ligand_genes", problem.coupling().ligands()},
          {"largest_factor", largest},
          {"largest_spread_between_animals", spread},
          {"largest_abs_gamma", gamma},
          {"unstable_animals", dets.empty() ? json(nullptr) : json(unstable)},
          {"smallest_niche_determinant", smallest_det}};
}

}  // namespace

GradientCheckReport run_gradient_check(const parallel::Comm& comm, const FitRequest& given, const Reporter& reporter) {
  // Central differences of step h see the solver's stopping point through atol / h: the
  // check solves tighter than a fit needs (at 1e-10, 6e-5 relative error on fit_small).
  FitRequest request = given;
  request.options.steady.atol = std::min(request.options.steady.atol, 1e-13);
  request.options.trajectory.ode.rtol = std::min(request.options.trajectory.ode.rtol, 1e-10);  // the same for time courses
  request.options.trajectory.ode.atol = std::min(request.options.trajectory.ode.atol, 1e-12);
  Session session(comm, request, false, reporter);  // a deck's stale fit.truth must not stop a check
  std::vector<double> at;
  if (!request.restart.empty()) at = session.read_restart().theta;
  GradientCheckReport report;
  report.result =
      check_gradient(*session.problem, request.options.gradient_directions, 1e-5, reporter, at.empty() ? nullptr : &at);
  report.pass = report.result["max_relative_error"].get<double>() < kGradientCheckThreshold;
  comm.run_on_root(
      [&] { io::write_file_atomically(request.output / "gradient_check.json", json_text(report.result) + "\n"); });
  return report;
}

FitReport run_fit(const parallel::Comm& comm, const FitRequest& request, const parallel::StopSignal& stop,
                  const Reporter& reporter) {
  const auto start = std::chrono::steady_clock::now();
  Session session(comm, request, true, reporter);
  auto& problem = *session.problem;
  const auto& options = request.options;
  // The Gaussian pseudo-bulk loss has what it needs from the perturbed cells (their groups'
  // means); the NB likelihood reads every cell at every evaluation.
  if (!problem.count_likelihood()) session.screen->release_perturbed_counts();
  FitReport report;
  report.checkpoint = request.output / "checkpoint.h5";

  OptimizerState state;
  if (!request.restart.empty()) {
    state = session.read_restart();
    reporter.info("restarting from " + (request.restart / "checkpoint.h5").string() + " at iteration " +
                  std::to_string(state.iteration));
  }
  auto write_state = [&](const OptimizerState& s) {
    comm.run_on_root([&] { write_checkpoint(report.checkpoint, s, session.identity); });
  };
  const auto result = optimize(problem, state, comm, stop, write_state, reporter);
  write_state(state);
  report.iteration = state.iteration;
  if (result.interrupted) {
    report.interrupted = true;
    report.signal_number = stop.signal_number();
    return report;
  }

  // Early stopping: the iterate it selected, where there was a validation set.
  const auto& es = state.early;
  const bool early = es.active() && es.selected_theta.size() == state.theta.size();
  const int selected = early ? es.selected_iteration : state.iteration;
  if (early && selected < state.iteration)
    reporter.info("early stopping: the fitted model is iteration " + std::to_string(selected) + " of " +
                  std::to_string(state.iteration) + " (validation loss lowest at iteration " +
                  std::to_string(es.best_iteration) + "; later iterates within its standard error are preferred)");
  const auto& fitted = early ? es.selected_theta : state.theta;
  const auto final_loss = problem.evaluate(fitted, nullptr);
  if (!std::isfinite(final_loss.total) ||
      !std::all_of(fitted.begin(), fitted.end(), [](double x) { return std::isfinite(x); }))
    throw NumericalError("the fitted model's loss or parameters are not finite (loss " +
                         std::to_string(final_loss.total) +
                         "); nothing is written but the last checkpoint. Check the screen or lower fit.learning_rate");
  const auto failed = problem.solve_all(true);
  problem.release_warm_starts();  // memory: the evaluation and the output need only the solutions
  std::int64_t unstable = 0;
  for (const auto& c : problem.conditions()) {
    // Each condition once: coupled, the groups (members, one rank each); else controls on the root.
    const bool counted = problem.niche_coupled() ? c.member : !c.generic && (!c.control || comm.is_root());
    if (counted && c.solved && !c.stable) ++unstable;
  }
  unstable = comm.sum(unstable);
  if (failed > 0)
    reporter.warn(std::to_string(failed) +
                  " steady states of the fitted model failed; their groups are left out of the metrics");
  if (unstable > 0)
    reporter.warn(std::to_string(unstable) +
                  " steady states of the fitted model are unstable (see fit.h5 steady_states)");
  std::vector<GroupPrediction> rows;
  json metrics = evaluate_predictions(problem, comm, rows);
  const auto& splits = session.split_counts;
  json summary{{"final_loss",
                {{"total", final_loss.total},
                 {"data", final_loss.data},
                 {"steady_state", final_loss.steady_state},
                 {"abundance", final_loss.abundance},
                 {"l1", final_loss.l1},
                 {"l2", final_loss.l2}}},
               {"optimizer", session.identity.optimizer},
               {"stop_reason", result.reason},
               {"iterations", state.iteration},
               {"selected_iteration", selected},
               {"best_validation_iteration", early ? json(es.best_iteration) : json(nullptr)},
               {"best_validation_loss", early ? json(es.best) : json(nullptr)},
               {"kappa", problem.kappa()},
               {"lambda_ss", options.lambda_ss},
               {"perturbations", {{"train", splits[0]}, {"validation", splits[1]}, {"test", splits[2]}}},
               {"parameters", problem.size()},
               {"edges_in_support", problem.parameters().W.nnz()},
               {"failed_steady_states", failed},
               {"unstable_steady_states", unstable},
               {"metrics", metrics}};
  if (problem.niche_coupled()) summary["niche"] = niche_summary(problem, reporter);
  summary["assumptions"] = assumption_checks(problem, comm);
  if (problem.fits_abundance()) {
    summary["abundance"] = abundance_metrics(problem);
    const auto& test = summary["abundance"]["test"];
    reporter.info("guide abundance, test: " + test["observations"].dump() + " observations, MSE model " +
                  test["mse"]["model"].dump() + ", no selection " + test["mse"]["no_selection"].dump() +
                  ", train mean " + test["mse"]["train_mean"].dump());
  }
  if (problem.count_likelihood()) summary["measurement"] = measurement_summary(problem, reporter);
  if (!options.truth.empty()) {
    json truth;
    comm.run_on_root([&] { truth = truth_recovery(problem, options.truth); });
    summary["truth_recovery"] = truth;
  }
  io::OutputSet staged;  // fit.h5 and metrics.json are published together, or neither
  write_fit(comm, request.output / "fit.h5", problem, fitted, session.identity, state.history, rows,
            json_text(metrics, -1), &staged);
  summary["wall_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  comm.run_on_root([&] {
    io::write_file_atomically(request.output / "metrics.json", json_text(summary) + "\n", &staged);
    staged.commit();
  });
  report.summary = std::move(summary);
  return report;
}

}  // namespace perturbfit::fit
