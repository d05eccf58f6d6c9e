// Train / validation / test split by perturbation (never by cell: a held-out perturbation
// has no cell in training). Seeded and keyed by the perturbation's label, so it does not
// depend on the rank count or on the order of categories in the file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "perturbfit/data/screen_data.hpp"

namespace perturbfit::fit {

enum class Split : int { kTrain = 0, kValidation = 1, kTest = 2 };
const char* to_string(Split s);

// Controls are always in training (every split is contrasted with them). Excluded
// perturbations are marked train and carry no groups.
std::vector<Split> assign_splits(const std::vector<data::Perturbation>& perturbations, double validation_fraction,
                                 double test_fraction, std::uint64_t seed);

// What a held-out perturbation asks of the model: "single", "combination (singles seen)"
// (every target was perturbed alone in training) or "combination (unseen single)".
std::string holdout_category(const std::vector<data::Perturbation>& perturbations, const std::vector<Split>& splits,
                             std::size_t p);

}  // namespace perturbfit::fit
