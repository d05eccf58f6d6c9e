#include "perturbfit/solvers/settings.hpp"

#include "perturbfit/core/error.hpp"

namespace perturbfit::solvers {

SteadyStateOptions steady_state_options(const config::Deck& d) {
  solvers::SteadyStateOptions o;
  o.atol = d.get<double>("solver.steady_atol");
  o.rtol = d.get<double>("solver.steady_rtol");
  o.max_iterations = d.get<int>("solver.steady_max_it");
  const auto fallback = d.get<std::string>("solver.fallback");
  if (fallback != "cvodes" && fallback != "none")
    throw UsageError("solver.fallback = '" + fallback + "' is unknown; use cvodes or none");
  o.fallback = fallback == "cvodes";
  o.fallback_time = d.get<double>("solver.fallback_time");
  const auto stability = d.get<std::string>("solver.stability");
  if (stability != "check" && stability != "skip")
    throw UsageError("solver.stability = '" + stability + "' is unknown; use check or skip");
  o.stability = stability == "check" ? StabilityMode::kCheck : StabilityMode::kSkip;
  o.stability_iterations = d.get<int>("solver.stability_iterations");
  o.ode.rtol = d.get<double>("solver.ode_rtol");
  o.ode.atol = d.get<double>("solver.ode_atol");
  o.ode.max_steps = d.get<long>("solver.ode_max_steps");
  if (!(o.atol > 0) || !(o.ode.rtol > 0) || !(o.ode.atol > 0))
    throw UsageError("solver tolerances must be > 0");
  return o;
}

}  // namespace perturbfit::solvers
