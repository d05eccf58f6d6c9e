#include "perturbfit/solvers/settings.hpp"

#include "perturbfit/config/schema.hpp"

#include "perturbfit/core/error.hpp"

namespace perturbfit::solvers {

SteadyStateOptions steady_state_options(const config::Deck& d) {
  solvers::SteadyStateOptions o;
  o.atol = d.get<double>("solver.steady_atol");
  o.rtol = d.get<double>("solver.steady_rtol");
  o.max_iterations = d.get<int>("solver.steady_max_it");
  o.relaxation_rate = d.get<double>("solver.relaxation_rate");
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
  if (!(o.atol > 0) || !(o.ode.rtol > 0) || !(o.ode.atol > 0)) throw UsageError("solver tolerances must be > 0");
  return o;
}

// A table, one line per key:
// clang-format off
config::SectionSpec solver_section() {
  using namespace config::key_table;
  return {"solver", "Steady-state and time-integration solvers. PETSc options (-snes_*, -ksp_*, -pc_*) override the SNES settings.",
       {
           {"steady_atol", VT::kFloat, 1e-9, "absolute tolerance on ||f(x*)||_2 for a steady state", range::positive()},
           {"steady_rtol", VT::kFloat, 1e-12, "relative tolerance of the Newton iteration", range::non_negative()},
           {"steady_max_it", VT::kInt, 50, "maximum Newton iterations before the fallback", range::count(1, 100000)},
           {"relaxation_rate", VT::kFloat, 0.5, "the batched solvers start every perturbation with relaxation sweeps (Gauss-Seidel for a mechanistic model, Jacobi for a hybrid or neural one; for its steady state and for its adjoint), one pass over W each and no Krylov work, while each sweep cuts the residual by at least this factor; Newton-GMRES (GMRES) finishes what they leave. 0: Newton-GMRES and GMRES from the start", range::between(0.0, 0.99)},
           {"fallback", VT::kString, "cvodes", "what to do when Newton fails: cvodes (integrate towards the attractor, then Newton again) | none"},
           {"fallback_time", VT::kFloat, 200.0, "integration horizon of the fallback, in model time units", range::positive()},
           {"stability", VT::kString, "check", "check | skip: test each steady state for stability (leading eigenvalue of df/dx)"},
           {"stability_iterations", VT::kInt, 40, "power iterations on the Cayley transform of df/dx for the stability test", range::count(1, 100000)},
           {"batch_size", VT::kInt, 32, "perturbations solved together by the batched solvers (relaxation, Newton-GMRES and, in a fit, the adjoint's relaxation and GMRES: one pass over W serves the batch); 0: PETSc SNES and KSP for each", range::count(0, 100000)},
           {"multistart", VT::kInt, 4, "extra random starts for the control steady state, to detect several attractors", range::count(0, 10000)},
           {"ode_rtol", VT::kFloat, 1e-6, "CVODES relative tolerance", range::positive()},
           {"ode_atol", VT::kFloat, 1e-9, "CVODES absolute tolerance", range::positive()},
           {"ode_max_steps", VT::kInt, 100000, "CVODES maximum internal steps per output interval", range::count(1)},
       }};
}
// clang-format on

}  // namespace perturbfit::solvers
