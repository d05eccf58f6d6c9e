#include "perturbfit/analysis/attractors.hpp"

#include <algorithm>

#include "perturbfit/analysis/prediction.hpp"
#include "perturbfit/fit/assumptions.hpp"
#include "perturbfit/parallel/decomposition.hpp"

namespace perturbfit::analysis {

nlohmann::json unique_attractor_check(const parallel::Comm& comm, fit::FitProblem& problem, int other_starts,
                                      const Reporter& reporter) {
  const auto& perts = problem.data().perturbations();
  std::vector<PredictionQuery> all;
  std::vector<int> label_of;
  for (std::size_t p = 0; p < perts.size(); ++p) {
    if (perts[p].control || perts[p].excluded) continue;
    for (std::size_t r = 0; r < problem.references().size(); ++r) {
      all.push_back({perts[p].label, perts[p].target_nodes, static_cast<int>(r), -1});
      label_of.push_back(static_cast<int>(p));
    }
  }
  const auto mine = parallel::block_range(all.size(), comm.size(), comm.rank());
  const Predictor predictor(problem, comm, other_starts);
  const auto rows = predictor.predict(
      std::vector<PredictionQuery>(all.begin() + static_cast<long>(mine.begin), all.begin() + static_cast<long>(mine.end)));
  std::vector<int> multistable, failed;
  std::vector<double> spreads;
  std::int64_t tested = 0;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    if (!rows[k].converged) {
      failed.push_back(label_of[mine.begin + k]);
      continue;
    }
    tested += rows[k].other_starts_converged > 0 ? 1 : 0;
    if (rows[k].non_unique) multistable.push_back(label_of[mine.begin + k]), spreads.push_back(rows[k].start_spread);
  }
  const auto all_multi = comm.all_gather(multistable);
  const auto all_failed = comm.all_gather(failed);
  const auto all_spreads = comm.all_gather(spreads);
  tested = comm.sum(tested);
  nlohmann::json examples = nlohmann::json::array();
  for (std::size_t i = 0; i < all_multi.size() && i < 10; ++i)
    examples.push_back({{"perturbation", perts[static_cast<std::size_t>(all_multi[i])].label},
                        {"largest_log_difference", all_spreads[i]}});
  reporter.info("unique attractor: " + std::to_string(all.size()) + " (perturbation, context) pairs from " +
                std::to_string(1 + other_starts) + " starts each: " + std::to_string(all_multi.size()) +
                " reach another steady state, " + std::to_string(all_failed.size()) + " did not converge");
  const auto count = static_cast<double>(all_multi.size());
  auto out = fit::assumption(
      "unique_attractor", count,
      "perturbations (per context) whose steady state from another start (the control state x 0.3, 3, ...) "
      "differs by more than " + std::to_string(kUniqueTolerance) + " in log expression",
      0, all_multi.empty() ? "pass" : "fail",
      std::to_string(all_multi.size()) + " of " + std::to_string(all.size()) + " have another attractor (" +
          std::to_string(tested) + " had a converged other start; " + std::to_string(all_failed.size()) +
          " failed from the control state)",
      "the fitted model is multistable for these perturbations: their predictions depend on where cells start; "
      "check them with `perturbfit predict --starts`, constrain the network (fit.lambda_l1, a prior edge list) or "
      "model the population as a mixture of attractors");
  out["other_starts"] = other_starts;
  out["examples"] = examples;
  return out;
}

}  // namespace perturbfit::analysis
