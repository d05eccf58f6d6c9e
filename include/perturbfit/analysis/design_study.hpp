// `perturbfit design --simulate`: the planned screen simulated and fitted over a grid of
// allocations (cells per guide x batches x controls fraction) and seeds, each point in its
// own directory (OUT/study/<point>-seed<S>/sim and fit), its held-out error collected: the
// expected test error of the model and of the baselines at each allocation, and the effect
// estimates' own error (the replicate noise floor of the test split).
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "perturbfit/analysis/screen_design.hpp"
#include "perturbfit/config/deck.hpp"
#include "perturbfit/core/reporter.hpp"
#include "perturbfit/parallel/comm.hpp"

namespace perturbfit::analysis {

struct DesignStudyRequest {
  // The deck with extra --set values (the grid's, the seed's): the caller knows its schema.
  std::function<config::Deck(const std::vector<std::string>&)> load_deck;
  // Cells per guide; empty: the plan's budget (total cells) for every allocation.
  std::vector<double> cells_per_guide;
  std::vector<double> controls_fractions;  // empty: the plan's and the recommended one
  std::vector<int> batches;                                 // empty: the plan's
  int seeds = 1;
  std::filesystem::path output;
};

// Collective. Each point: simulate (run.seed = 1..seeds), fit, and the test split's MSE of
// effects by predictor (model, control_mean, train_mean); means and standard deviations
// over seeds.
nlohmann::json run_design_study(const parallel::Comm& comm, const PlannedScreen& plan, const DesignStudyRequest& request,
                                const Reporter& reporter);

}  // namespace perturbfit::analysis
