// One steady state f(x*; m, p, infinity) = 0 (MODEL.md section 6) by PETSc SNES on
// PETSC_COMM_SELF, the fallback by CVODES integration, the stability test, and the typed
// per-solve report. One solver object is reused for many perturbations; solver choices
// come from the options database (-snes_*, -ksp_*, -pc_*). Many conditions at once, with
// the batched pass first: steady_state_problem.hpp.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "perturbfit/model/vector_field.hpp"
#include "perturbfit/solvers/ode_integrator.hpp"

namespace perturbfit::solvers {

enum class StabilityMode { kCheck, kSkip };

struct SteadyStateOptions {
  double atol = 1e-9;  // accept when ||f(x*)||_2 <= atol
  double rtol = 1e-12;
  int max_iterations = 50;
  // The batched solvers relax a column (Gauss-Seidel sweeps for a mechanistic model, Jacobi
  // otherwise; its steady state and its adjoint) while each sweep cuts its residual by this
  // factor, then finish it by Newton-GMRES (GMRES). 0: Newton-GMRES and GMRES from the start.
  double relaxation_rate = 0.5;
  bool fallback = true;  // integrate with CVODES, then Newton again
  double fallback_time = 200.0;
  StabilityMode stability = StabilityMode::kCheck;
  int stability_iterations = 40;
  OdeOptions ode;
  bool operator==(const SteadyStateOptions&) const = default;
};

// How a steady state was reached (the codes are stored in truth.h5 solves/method).
// kTimeCourse: not a steady state but a fit's time-course state (solvers::Trajectory).
// kBatchedRelaxation: the batched solver's relaxation sweeps alone (no Newton step needed).
enum class SolveMethod {
  kBatchedNewton = 0,
  kNewton = 1,
  kCvodesNewton = 2,
  kFailed = 3,
  kTimeCourse = 4,
  kBatchedRelaxation = 5
};
inline bool is_batched(SolveMethod m) { return m == SolveMethod::kBatchedNewton || m == SolveMethod::kBatchedRelaxation; }
// How its stability was decided (codes stored in truth.h5 solves/stability_method).
enum class StabilityMethod { kSkipped = 0, kGershgorin = 1, kCayleyPower = 2 };
const char* to_string(SolveMethod m);      // batched-newton | newton | cvodes+newton | failed | time-course | batched-relaxation
const char* to_string(StabilityMethod m);  // skipped | gershgorin | cayley-power

struct SteadyStateReport {
  bool converged = false;
  SolveMethod method = SolveMethod::kFailed;
  int newton_iterations = 0;  // over all attempts
  int linear_iterations = 0;
  double residual_norm = 0.0;  // ||f(x*)||_2 of the returned state
  std::string snes_reason;     // PETSc's converged reason of the last Newton attempt
  // Stability of x*: certified by row sums (Gershgorin), estimated (Cayley power), or skipped.
  StabilityMethod stability_method = StabilityMethod::kSkipped;
  bool stable = false;
  // cayley-power only: the rightmost eigenvalue when it is real; its sign is always right
  double leading_eigenvalue = 0.0;
};

class SteadyStateSolver {
 public:
  SteadyStateSolver(const model::VectorField& field, const SteadyStateOptions& options);
  ~SteadyStateSolver();
  SteadyStateSolver(const SteadyStateSolver&) = delete;
  SteadyStateSolver& operator=(const SteadyStateSolver&) = delete;

  // x: initial guess in, steady state out (left at the best iterate on failure).
  SteadyStateReport solve(const model::Condition& cond, std::vector<double>& x);
  // The stability test alone, at a given state.
  void assess_stability(const model::Condition& cond, const std::vector<double>& x, SteadyStateReport& report);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace perturbfit::solvers
