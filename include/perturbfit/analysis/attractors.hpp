// The "unique attractor" assumption tested on a fitted model: every perturbation of the
// screen, in every context, solved from the control state and from `other_starts` other
// starts (analysis/prediction.hpp); a perturbation fails where a converged start lands on
// another steady state. Distributed over the ranks.
#pragma once
#include <nlohmann/json.hpp>

#include "perturbfit/core/reporter.hpp"
#include "perturbfit/fit/problem.hpp"
#include "perturbfit/parallel/comm.hpp"

namespace perturbfit::analysis {

// Collective. An entry of fit::assumption_checks.
nlohmann::json unique_attractor_check(const parallel::Comm& comm, fit::FitProblem& problem, int other_starts,
                                      const Reporter& reporter);

}  // namespace perturbfit::analysis
