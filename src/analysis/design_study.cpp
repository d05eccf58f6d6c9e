#include "perturbfit/analysis/design_study.hpp"

#include <cmath>
#include <sstream>

#include "perturbfit/core/error.hpp"
#include "perturbfit/data/options.hpp"
#include "perturbfit/fit/options.hpp"
#include "perturbfit/fit/run.hpp"
#include "perturbfit/parallel/stop_signal.hpp"
#include "perturbfit/simulate/run.hpp"

namespace perturbfit::analysis {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {
const std::vector<std::string> kPredictors{"model", "control_mean", "train_mean"};

std::string number(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}
}  // namespace

json run_design_study(const parallel::Comm& comm, const PlannedScreen& plan, const DesignStudyRequest& request,
                      const Reporter& reporter) {
  // Without a cells-per-guide grid the budget is the plan's: every allocation has its cells.
  const bool fixed_budget = request.cells_per_guide.empty();
  const auto cells_grid = fixed_budget ? std::vector<double>{0.0} : request.cells_per_guide;
  const auto batch_grid = request.batches.empty() ? std::vector<int>{plan.batches} : request.batches;
  const auto control_grid = request.controls_fractions.empty()
                                ? std::vector<double>{plan.controls_fraction,
                                                      recommended_controls_fraction(plan.perturbations)}
                                : request.controls_fractions;
  const Reporter quiet(comm.is_root(), true);
  const parallel::StopSignal stop;
  json points = json::array();
  const std::size_t total = cells_grid.size() * batch_grid.size() * control_grid.size();
  std::size_t done = 0;
  for (double per_guide : cells_grid)
    for (int batches : batch_grid)
      for (double fraction : control_grid) {
        // Total cells that give `per_guide` cells to each guide at this controls fraction.
        const auto guides = static_cast<double>(plan.guides_per_target * plan.perturbations);
        const auto cells = fixed_budget ? plan.cells
                                        : static_cast<std::int64_t>(std::llround(per_guide * guides / (1 - fraction)));
        const double cells_per_guide = static_cast<double>(cells) * (1 - fraction) / guides;
        std::vector<std::vector<double>> errors(kPredictors.size()), noise;
        for (int seed = 1; seed <= request.seeds; ++seed) {
          const std::vector<std::string> overrides{
              "protocol." + std::to_string(plan.perturb_step) + ".controls_fraction=" + number(fraction),
              "protocol." + std::to_string(plan.measure_step) + ".cells=" + std::to_string(cells),
              "protocol." + std::to_string(plan.measure_step) + ".batches=" + std::to_string(batches),
              "run.seed=" + std::to_string(seed), "fit.truth=\"\"", "output.write_truth=false"};
          const auto deck = request.load_deck(overrides);
          const fs::path dir = request.output / "study" /
                               ("cells" + std::to_string(cells) + "-b" + std::to_string(batches) + "-cf" +
                                number(fraction) + "-seed" + std::to_string(seed));
          comm.run_on_root([&] { fs::create_directories(dir / "fit"), fs::create_directories(dir / "sim"); });
          const auto sim = simulate::run_simulation(comm, deck, dir / "sim", quiet);
          const fit::FitRequest fit_request{deck, fit::fit_options(deck), data::data_options(deck, sim.screen.string(), ""),
                                            dir / "fit", {}};
          const auto report = fit::run_fit(comm, fit_request, stop, quiet);
          if (report.interrupted)
            throw Error(ExitCode::kNumerical, "design --simulate was interrupted by signal " +
                                                  std::to_string(report.signal_number) + " at " + dir.string() +
                                                  " (the points before it are in " + (request.output / "study").string() +
                                                  ")");
          const auto& test = report.summary["metrics"];
          for (std::size_t q = 0; q < kPredictors.size(); ++q)
            if (test.contains(kPredictors[q]) && test[kPredictors[q]].contains("test"))
              errors[q].push_back(test[kPredictors[q]]["test"]["mse_effect"].get<double>());
          // The effect estimates' own error: the replicate noise floor (the batches' disagreement).
          if (test.contains("replicate") && test["replicate"].contains("test") &&
              test["replicate"]["test"].contains("noise_floor_mse_effect"))
            noise.push_back({test["replicate"]["test"]["noise_floor_mse_effect"].get<double>()});
        }
        json point{{"cells_per_guide", cells_per_guide}, {"batches", batches}, {"controls_fraction", fraction},
                   {"cells", cells}, {"seeds", request.seeds}};
        std::vector<double> floors;
        for (const auto& v : noise) floors.push_back(v[0]);
        point["test_effect_noise_floor"] = floors;
        for (std::size_t q = 0; q < kPredictors.size(); ++q) {
          const auto& e = errors[q];
          double mean = 0, var = 0;
          for (double x : e) mean += x / static_cast<double>(e.size());
          for (double x : e) var += (x - mean) * (x - mean) / std::max<double>(1, static_cast<double>(e.size()) - 1);
          point["test_mse_effect"][kPredictors[q]] = {{"mean", e.empty() ? json(nullptr) : json(mean)},
                                                      {"sd", e.size() > 1 ? json(std::sqrt(var)) : json(nullptr)},
                                                      {"values", e}};
        }
        points.push_back(point);
        reporter.info("design --simulate: point " + std::to_string(++done) + "/" + std::to_string(total) +
                      " (" + std::to_string(cells) + " cells, cells per guide " + number(cells_per_guide) + ", " +
                      std::to_string(batches) +
                      " batches, controls fraction " + number(fraction) + "): model test MSE of effects " +
                      point["test_mse_effect"]["model"]["mean"].dump());
      }
  return {{"points", points}, {"seeds", request.seeds}, {"directory", (request.output / "study").string()}};
}

}  // namespace perturbfit::analysis
