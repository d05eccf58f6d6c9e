// `perturbfit fit --check-gradient`: the adjoint gradient against central finite
// differences of the loss along random directions (seeded; fixed variables excluded).
#pragma once
#include <nlohmann/json.hpp>

#include "perturbfit/fit/problem.hpp"

namespace perturbfit::fit {

// At `at` if given (e.g. a checkpoint's point: `fit --check-gradient --restart OUT`), else
// at a point moved away from the initial one (random W, so every term is exercised).
// Collective. Returns per-direction results and the largest relative error.
nlohmann::json check_gradient(FitProblem& problem, int directions, double step, const Reporter& reporter,
                              const std::vector<double>* at = nullptr);

}  // namespace perturbfit::fit
